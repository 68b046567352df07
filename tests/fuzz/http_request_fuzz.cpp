// libFuzzer: raw bytes of an HTTP/1.1 connection, through what the REST API runs before any
// actor sees a request (SPEC section 7):
//   - Beast's request parser, limited as io/http_server_beast.cpp limits it (16 KiB header,
//     64 KiB body), request after request (pipelining) as a connection reads them;
//   - the server's own request-target parsing and response serialization (io/http_codec);
//   - serve_static's confinement to the web root (a file beside the root must never come
//     back, whatever the path);
//   - actors/http_api.cpp's pure steps: model::split_path, parse_instance_name,
//     model::parse_orchestrate_http and the events filter (model::parse_decision_filter).
// Properties: nothing throws out, a refusal is a 4xx with a non-empty message, a serialized
// response has exactly one header/body separator before its body.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <filesystem>
#include <fstream>

#include "io/http_beast_request.hpp"
#include "io/http_codec.hpp"
#include "io/static_files.hpp"

#include <unistd.h>

#include <cstdlib>

#include "model/decision_history.hpp"
#include "model/rest_input.hpp"
#include "model/zk_layout.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace iota::io {
namespace {

namespace fs = std::filesystem;
namespace model = iota::model;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr const char* secret = "secret beside the web root";

struct web_root : fuzz::scratch_dir {
  std::string root;
  web_root() : scratch_dir("iota-http-fuzz") {
    fs::create_directories(dir / "web" / "sub");
    std::ofstream(dir / "web" / "index.html") << "<html>index</html>";
    std::ofstream(dir / "web" / "sub" / "a.js") << "let a = 1;";
    std::ofstream(dir / "web" / ".hidden") << secret;
    std::ofstream(dir / "secret.txt") << secret;
    std::error_code ec;
    fs::create_symlink(dir / "secret.txt", dir / "web" / "link.txt", ec);
    root = (dir / "web").string();
  }
};

void check_serialized(const http_response& response, bool head) {
  response_context ctx;
  ctx.head_only = head;
  ctx.cors_origin = "http://x";
  auto bytes = serialize(response, ctx);
  auto end = bytes.find("\r\n\r\n");
  FUZZ_CHECK(end != std::string::npos);
  // Header values are cleaned: no CR/LF/NUL smuggled into the head.
  auto head_part = std::string_view(bytes).substr(0, end);
  FUZZ_CHECK(head_part.find('\0') == std::string_view::npos);
  FUZZ_CHECK(head_part.find("\n\n") == std::string_view::npos);
}

void refusal_checks(const model::http_refusal& r) {
  FUZZ_CHECK(r.status >= 400 && r.status < 500 && !r.message.empty());
  check_serialized(json_error(r.status, r.message), false);
}

// One complete request, as connection::dispatch builds it, then the API's pure steps.
void handle(http::request<http::string_body>& message) {
  static web_root web;
  http_request request = to_http_request(message);
  if (!parse_target(request.target, request.path, request.query)) {
    check_serialized(json_error(400, "malformed request target"), false);
    return;
  }
  if (request.method == "GET" || request.method == "HEAD") {
    if (auto file = serve_static(web.root, request.path)) {
      FUZZ_CHECK(file->body != secret);
      check_serialized(*file, request.method == "HEAD");
    }
  }
  auto seg = model::split_path(request.path);
  for (const auto& s : seg)
    FUZZ_CHECK(!s.empty() && s.find('/') == std::string::npos);
  if (seg.size() == 7) {
    if (auto id = model::parse_instance_name(seg[5]))
      FUZZ_CHECK(std::to_string(*id) == seg[5]);
  }
  std::optional<std::string> dry_run;
  if (auto it = request.query.find("dryRun"); it != request.query.end())
    dry_run = it->second;
  auto parsed = model::parse_orchestrate_http(request.header("content-type"), request.body,
                                              dry_run, model::resource_options{});
  if (auto* refusal = std::get_if<model::http_refusal>(&parsed)) {
    refusal_checks(*refusal);
  } else {
    const auto& o = std::get<model::orchestrate_request>(parsed).options;
    FUZZ_CHECK(o.init_instances >= 1 && o.max_instances >= 1 && o.resource_per_instance >= 1);
  }
  // GET /v1/api/events: the filter of the query, or an error naming what is wrong; what it
  // accepts stays in range.
  std::string filter_error;
  if (auto f = model::parse_decision_filter(request.query, filter_error)) {
    FUZZ_CHECK(f->limit >= 1 && f->limit <= 10000);
    FUZZ_CHECK(f->kind.empty() || model::is_decision_kind(f->kind));
    FUZZ_CHECK(f->instance.empty() || f->instance.find_first_not_of("0123456789") == std::string::npos);
  } else {
    FUZZ_CHECK(!filter_error.empty());
  }
  http_response echo;
  echo.status = static_cast<int>(request.body.size() % 1000);
  echo.content_type = request.header("content-type");
  echo.body = request.path;
  for (const auto& [name, value] : request.headers)
    echo.headers.emplace_back(name, value);
  check_serialized(echo, false);
}

// A connection's bytes: up to max_pipeline requests, each handled once complete.
void run(std::string_view rest) {
  try {
    for (std::size_t requests = 0; requests < max_pipeline && !rest.empty(); ++requests) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(header_limit);
      parser.body_limit(65536);
      parser.eager(true);
      beast::error_code ec;
      while (!parser.is_done()) {
        auto used = parser.put(asio::buffer(rest.data(), rest.size()), ec);
        rest.remove_prefix(used);
        if (ec == http::error::need_more)
          ec = {};
        else if (ec)
          break;
        if (!parser.is_done() && used == 0) {
          parser.put_eof(ec);  // every byte was offered: the client closed, this is all
          break;
        }
      }
      if (ec || !parser.is_done())
        return;  // the server answers 400/413/431 and closes
      handle(parser.get());
    }
  } catch (const std::exception&) {
    std::abort();  // the server's read path does not expect exceptions
  }
}

}  // namespace
}  // namespace iota::io

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  iota::io::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
