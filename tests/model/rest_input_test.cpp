#include "model/rest_input.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace iota::model;

namespace {

const resource_options configured{10, 100, 5000};

http_refusal refused(std::string_view content_type, std::string_view body,
                     std::optional<std::string> dry_run = std::nullopt) {
  auto r = parse_orchestrate_http(content_type, body, dry_run, configured);
  REQUIRE(std::holds_alternative<http_refusal>(r));
  return std::get<http_refusal>(r);
}

orchestrate_request accepted(std::string_view content_type, std::string_view body,
                             std::optional<std::string> dry_run = std::nullopt) {
  auto r = parse_orchestrate_http(content_type, body, dry_run, configured);
  if (auto* refusal = std::get_if<http_refusal>(&r))
    FAIL("refused " << refusal->status << ": " << refusal->message);
  return std::get<orchestrate_request>(r);
}

}  // namespace

TEST_CASE("split_path keeps the non-empty segments", "[http_request]") {
  CHECK(split_path("/v1/api/orchestrations/Thing") ==
        std::vector<std::string>{"v1", "api", "orchestrations", "Thing"});
  CHECK(split_path("//v1///api/") == std::vector<std::string>{"v1", "api"});
  CHECK(split_path("/").empty());
  CHECK(split_path("").empty());
  CHECK(split_path("*") == std::vector<std::string>{"*"});
}

TEST_CASE("an orchestrate request: body, Content-Type and dryRun", "[http_request]") {
  auto none = accepted("", "");
  CHECK(none.options.init_instances == 10);
  CHECK(none.options.max_instances == 100);
  CHECK(none.options.resource_per_instance == 5000);
  CHECK_FALSE(none.dry_run);

  auto some = accepted("application/json; charset=utf-8",
                       R"({"maxInstances":50,"resourcePerInstance":1000,"initInstances":3})");
  CHECK(some.options.max_instances == 50);
  CHECK(some.options.resource_per_instance == 1000);
  CHECK(some.options.init_instances == 3);

  CHECK(accepted("", R"({"dryRun":true})").dry_run);
  CHECK(accepted("", "", std::string("1")).dry_run);
  CHECK(accepted("", "", std::string("true")).dry_run);
  CHECK_FALSE(accepted("", "", std::string("false")).dry_run);
  CHECK(accepted("", R"({"dryRun":true})", std::string("0")).dry_run);  // the body said so

  auto ct = refused("text/plain", "{}");
  CHECK(ct.status == 415);
  CHECK(ct.message == "Content-Type must be application/json, got text/plain");
  CHECK(accepted("text/plain", "").options.max_instances == 100);  // no body, no check

  auto dry = refused("", "", std::string("yes"));
  CHECK(dry.status == 400);
  CHECK(dry.message == "dryRun must be true or false, got \"yes\"");

  auto option = refused("application/json", R"({"maxInstances":"5"})");
  CHECK(option.status == 400);
  CHECK(option.message.find("maxInstances must be an integer with 3 <= maxInstances < 100") == 0);
  auto unknown = refused("", R"({"maxInstance":5})");
  CHECK(unknown.message.find("unknown option \"maxInstance\"") == 0);
  CHECK(refused("", "[1]").message.find("must be a JSON object") != std::string::npos);
}

TEST_CASE("malformed orchestrate bodies are a 400, never a crash", "[http_request][fuzz]") {
  for (std::string body : {std::string("{"), std::string("{\"a\":1}x"), std::string("\xff"),
                           std::string("{\"maxInstances\":5}\0garbage", 26)}) {
    auto r = refused("application/json", body);
    CHECK(r.status == 400);
    CHECK(r.message == "malformed JSON in the request body");
  }
  // Deep nesting is refused before the parser (and the error text's dump()) recurse into it.
  std::string deep = "{\"dryRun\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  auto r = refused("application/json", deep);
  CHECK(r.status == 400);
  CHECK(r.message == "malformed JSON in the request body");
  // At the limit it is parsed, and refused for what it is.
  std::string ok_depth = "{\"dryRun\":" + std::string(max_request_json_depth - 1, '[') +
                         std::string(max_request_json_depth - 1, ']') + "}";
  auto at_limit = refused("application/json", ok_depth);
  CHECK(at_limit.message.find("dryRun must be a boolean, got [[") == 0);
  // Brackets inside strings do not count.
  auto in_string = refused("", "{\"x\":\"" + std::string(1000, '[') + "\"}");
  CHECK(in_string.message.find("unknown option \"x\"") == 0);
}
