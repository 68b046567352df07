// The HTTP server's pure codec: request targets, header hygiene, serialisation.
#include <catch2/catch.hpp>

#include "io/http_codec.hpp"

using namespace iota::io;

TEST_CASE("a request target splits into its decoded path and query", "[http_codec]") {
  std::string path;
  std::map<std::string, std::string> query;
  REQUIRE(parse_target("/v1/api/a%20b?dryRun=true&x=1+2&empty", path, query));
  CHECK(path == "/v1/api/a b");
  CHECK(query == std::map<std::string, std::string>{{"dryRun", "true"}, {"x", "1 2"}, {"empty", ""}});
}

TEST_CASE("an absolute-form target keeps only its path and query", "[http_codec]") {
  std::string path;
  std::map<std::string, std::string> query;
  REQUIRE(parse_target("http://host:8080/metrics?a=b", path, query));
  CHECK(path == "/metrics");
  CHECK(query.at("a") == "b");
  query.clear();
  REQUIRE(parse_target("HTTPS://host?q=1", path, query));
  CHECK(path == "/");
  CHECK(query.at("q") == "1");
}

TEST_CASE("malformed targets and broken escapes are refused", "[http_codec]") {
  std::string path;
  std::map<std::string, std::string> query;
  CHECK_FALSE(parse_target("", path, query));
  CHECK_FALSE(parse_target("v1/api", path, query));
  CHECK_FALSE(parse_target("/a%2", path, query));
  CHECK_FALSE(parse_target("/a%zz", path, query));
  CHECK_FALSE(parse_target("/a?k=%g0", path, query));
  std::string out;
  CHECK_FALSE(percent_decode("%4", false, out));
  REQUIRE(percent_decode("a+b%41", false, out));
  CHECK(out == "a+bA");
}

TEST_CASE("header values lose CR, LF and NUL and bad header names are dropped", "[http_codec]") {
  CHECK(clean_value(std::string_view("a\r\nSet-Cookie: x\0y", 18)) == "aSet-Cookie: xy");
  CHECK(valid_header_name("X-Request-Id"));
  CHECK_FALSE(valid_header_name("Bad Name"));
  CHECK_FALSE(valid_header_name(""));
  http_response r;
  r.body = "{}";
  r.headers = {{"Bad Name", "v"}, {"Content-Length", "99"}, {"X-Ok", "1\r\n2"}};
  auto bytes = serialize(r, response_context{});
  CHECK(bytes == "HTTP/1.1 200 OK\r\nServer: iota-orchestrator\r\nContent-Type: application/json\r\n"
                 "Content-Length: 2\r\nX-Ok: 12\r\nConnection: keep-alive\r\n\r\n{}");
}

TEST_CASE("serialisation follows HEAD, 204, CORS and close", "[http_codec]") {
  http_response r;
  r.status = 204;
  r.body = "ignored";
  response_context ctx;
  ctx.close_after = true;
  ctx.cors_origin = "http://ui";
  ctx.vary_origin = true;
  CHECK(serialize(r, ctx) ==
        "HTTP/1.1 204 No Content\r\nServer: iota-orchestrator\r\n"
        "Access-Control-Allow-Origin: http://ui\r\nAccess-Control-Allow-Credentials: true\r\n"
        "Vary: Origin\r\nConnection: close\r\n\r\n");
  http_response h;
  h.body = "abc";
  response_context head;
  head.head_only = true;
  auto bytes = serialize(h, head);
  CHECK(bytes.find("Content-Length: 3\r\n") != std::string::npos);
  CHECK(bytes.substr(bytes.size() - 4) == "\r\n\r\n");
  http_response odd;
  odd.status = 42;
  CHECK(serialize(odd, {}).rfind("HTTP/1.1 500 ", 0) == 0);
}

TEST_CASE("json_error quotes invalid UTF-8 without throwing", "[http_codec]") {
  auto r = json_error(400, std::string("bad \xff byte"));
  CHECK(r.status == 400);
  CHECK(r.content_type == "application/json");
  CHECK(r.body == "{\"error\":\"bad \xEF\xBF\xBD byte\"}");
}
