// The dashboard's static files: served from the web root, never from beside it.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "io/static_files.hpp"

namespace fs = std::filesystem;
using iota::io::serve_static;

namespace {

struct web_dir {
  fs::path dir = fs::temp_directory_path() / ("iota-static-" + std::to_string(::getpid()));
  std::string root = (dir / "web").string();
  web_dir() {
    fs::create_directories(dir / "web" / "js");
    std::ofstream(dir / "web" / "index.html") << "<html>index</html>";
    std::ofstream(dir / "web" / "js" / "app.js") << "let a = 1;";
    std::ofstream(dir / "web" / ".env") << "hidden";
    std::ofstream(dir / "secret.txt") << "secret";
    fs::create_symlink(dir / "secret.txt", dir / "web" / "link.txt");
  }
  ~web_dir() { fs::remove_all(dir); }
};

}  // namespace

TEST_CASE("static files are served with their content type", "[static_files]") {
  web_dir web;
  auto index = serve_static(web.root, "/");
  REQUIRE(index);
  CHECK(index->body == "<html>index</html>");
  CHECK(index->content_type == "text/html; charset=utf-8");
  auto js = serve_static(web.root, "/js/app.js");
  REQUIRE(js);
  CHECK(js->content_type == "text/javascript; charset=utf-8");
  CHECK(js->headers == std::vector<std::pair<std::string, std::string>>{{"X-Content-Type-Options", "nosniff"}});
  auto dir = serve_static(web.root, "/js");
  CHECK_FALSE(dir);  // a directory without index.html
}

TEST_CASE("no path leaves the web root", "[static_files]") {
  web_dir web;
  for (const char* path : {"/../secret.txt", "/js/../../secret.txt", "/%2e%2e/secret.txt",
                           "/link.txt", "/.env", "/js/%2fetc", "relative", "", "/missing.html"})
    CHECK_FALSE(serve_static(web.root, path));
  CHECK_FALSE(serve_static("", "/index.html"));
}
