// Static files of the dashboard, confined to the web root.
#include "io/static_files.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "io/http_codec.hpp"

namespace iota::io {

namespace {

std::string content_type_for(const std::filesystem::path& file) {
  static const std::map<std::string, std::string> types = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".woff2", "font/woff2"},
  };
  auto it = types.find(lower(file.extension().string()));
  return it == types.end() ? std::string("application/octet-stream") : it->second;
}

constexpr std::uintmax_t static_file_limit = 64u << 20;

}  // namespace

std::optional<http_response> serve_static(const std::string& root, const std::string& path) {
  namespace fs = std::filesystem;
  if (root.empty() || path.empty() || path.front() != '/') return std::nullopt;
  if (path.find('\0') != std::string::npos || path.find('\\') != std::string::npos ||
      path.find("..") != std::string::npos) {
    return std::nullopt;
  }
  // The server hands over decoded paths; escapes still here are refused, not decoded twice.
  auto lowered = lower(path);
  for (const char* escape : {"%2e", "%2f", "%5c", "%00"}) {
    if (lowered.find(escape) != std::string::npos) return std::nullopt;
  }

  std::error_code ec;
  fs::path base = fs::canonical(root, ec);
  if (ec) return std::nullopt;
  fs::path full = base;
  std::size_t begin = 1;
  while (begin <= path.size()) {
    auto end = path.find('/', begin);
    if (end == std::string::npos) end = path.size();
    std::string component = path.substr(begin, end - begin);
    begin = end + 1;
    if (component.empty()) continue;
    if (component.front() == '.') return std::nullopt;  // hidden files, "." and ".."
    full /= component;
  }
  if (path.back() == '/') full /= "index.html";

  fs::path resolved = fs::canonical(full, ec);
  if (ec) return std::nullopt;
  if (fs::is_directory(resolved, ec)) {
    resolved = fs::canonical(resolved / "index.html", ec);
    if (ec) return std::nullopt;
  }
  // Symlinks are followed, so the resolved file must still be under the resolved root.
  auto mismatch = std::mismatch(base.begin(), base.end(), resolved.begin(), resolved.end());
  if (mismatch.first != base.end()) return std::nullopt;
  if (!fs::is_regular_file(resolved, ec) || ec) return std::nullopt;
  auto size = fs::file_size(resolved, ec);
  if (ec || size > static_file_limit) return std::nullopt;

  std::ifstream in(resolved, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream content;
  content << in.rdbuf();
  if (!in && !in.eof()) return std::nullopt;

  http_response response;
  response.status = 200;
  response.content_type = content_type_for(resolved);
  response.body = std::move(content).str();
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return response;
}

}  // namespace iota::io
