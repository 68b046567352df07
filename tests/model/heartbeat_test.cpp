#include <catch2/catch.hpp>

#include <random>

#include "model/heartbeat.hpp"

using namespace iota::model;

namespace {

heartbeat ok(const std::string& v) {
  auto r = parse_heartbeat(v);
  REQUIRE(std::holds_alternative<heartbeat>(r));
  return std::get<heartbeat>(r);
}

heartbeat_rejection bad(const std::string& v) {
  auto r = parse_heartbeat(v);
  REQUIRE(std::holds_alternative<heartbeat_rejection>(r));
  return std::get<heartbeat_rejection>(r);
}

}  // namespace

TEST_CASE("heartbeats with string or numeric instance ids", "[heartbeat]") {
  auto a = ok(R"({"resource":"Thing","instanceId":"3","resources":12,"ts":1700000000000})");
  CHECK(a.resource == "Thing");
  CHECK(a.instance_id == 3);
  CHECK(a.ts_ms == 1700000000000);
  auto b = ok(R"({"instanceId":17,"resource":"Rule"})");
  CHECK(b.instance_id == 17);
  CHECK(b.resource == "Rule");
  CHECK_FALSE(b.ts_ms);
  CHECK(ok(R"({"resource":"Thing","instanceId":0})").instance_id == 0);
}

TEST_CASE("garbage heartbeats are refused by reason", "[heartbeat]") {
  CHECK(bad("") == heartbeat_rejection::not_json);
  CHECK(bad("hello") == heartbeat_rejection::not_json);
  CHECK(bad("[1,2]") == heartbeat_rejection::not_json);
  CHECK(bad(std::string("\xff\xfe{", 3)) == heartbeat_rejection::not_json);
  CHECK(bad(std::string(100, '[')) == heartbeat_rejection::not_json);
  CHECK(bad(R"({"instanceId":"3"})") == heartbeat_rejection::missing_resource);
  CHECK(bad(R"({"resource":3,"instanceId":"3"})") == heartbeat_rejection::missing_resource);
  CHECK(bad(R"({"resource":"Thing"})") == heartbeat_rejection::missing_instance);
  CHECK(bad(R"({"resource":"Thing","instanceId":null})") == heartbeat_rejection::missing_instance);
  for (auto id : {R"("x")", R"("-1")", R"("03")", "-1", "1.5", "true", "[3]", R"({"id":3})", "1e3",
                  "99999999999"})
    CHECK(bad(std::string(R"({"resource":"Thing","instanceId":)") + id + "}") ==
          heartbeat_rejection::bad_instance);
  CHECK(bad(std::string(70000, ' ')) == heartbeat_rejection::too_large);
}

TEST_CASE("random bytes never crash the heartbeat parser", "[heartbeat]") {
  std::mt19937 rng{7};
  for (int i = 0; i < 5000; ++i) {
    std::string s(rng() % 64, '\0');
    for (auto& c : s)
      c = static_cast<char>(rng() % 256);
    CHECK_NOTHROW(parse_heartbeat(s));
  }
}
