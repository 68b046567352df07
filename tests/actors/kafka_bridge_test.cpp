// The kafka_bridge's pre-filter (issue 9): a consumer reads every resource type's heartbeats,
// and messages that cannot name its type are skipped before the JSON parse, counted as
// another resource's as before; everything else still gets the full parse and check.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include <caf/event_based_actor.hpp>

#include "actors/kafka_bridge.hpp"
#include "fakes/deterministic_system.hpp"
#include "messages/atoms.hpp"
#include "model/heartbeat.hpp"

using namespace iota;

TEST_CASE("heartbeat pre-filter: false only when the raw bytes cannot name the resource",
          "[kafka_bridge][heartbeat]") {
  using model::may_be_heartbeat_for;
  CHECK(may_be_heartbeat_for(R"({"resource":"Thing","instanceId":"3"})", "Thing"));
  CHECK(may_be_heartbeat_for(R"({ "resource" : "Thing" , "instanceId": 3})", "Thing"));
  CHECK_FALSE(may_be_heartbeat_for(R"({"resource":"Hb1","instanceId":"3"})", "Thing"));
  CHECK_FALSE(may_be_heartbeat_for(R"({"resource":"Things","instanceId":"3"})", "Thing"));
  CHECK_FALSE(may_be_heartbeat_for(R"({"resource":"AThing","instanceId":"3"})", "Thing"));
  CHECK_FALSE(may_be_heartbeat_for(R"({"resource":Thing})", "Thing"));  // not a JSON string
  CHECK_FALSE(may_be_heartbeat_for("", "Thing"));
  CHECK_FALSE(may_be_heartbeat_for("\"Thing", "Thing"));
  CHECK(may_be_heartbeat_for("\"Thing\"", "Thing"));
  // Named elsewhere than in "resource": passes, the parse decides.
  CHECK(may_be_heartbeat_for(R"({"resource":"Hb1","note":"Thing"})", "Thing"));
  // An escape could spell the name another way ("\u0054hing" is "Thing"): parse it.
  CHECK(may_be_heartbeat_for(R"({"resource":"\u0054hing","instanceId":"3"})", "Thing"));
  CHECK(may_be_heartbeat_for(R"({"resource":"Hb1","x":"a\"b"})", "Thing"));
  // Names JSON would escape, and the empty name: never filtered.
  CHECK(may_be_heartbeat_for(R"({"resource":"Hb1"})", "Th\"ing"));
  CHECK(may_be_heartbeat_for(R"({"resource":"Hb1"})", ""));
  // Agrees with the parse on every message the parse accepts for the resource.
  for (auto msg : {R"({"resource":"Thing","instanceId":"0"})", R"({"instanceId":7,"resource":"Thing","ts":1})",
                   "{\"resource\":\n\"Thing\",\"instanceId\":\"12\"}"}) {
    auto parsed = model::parse_heartbeat(msg);
    REQUIRE(std::holds_alternative<model::heartbeat>(parsed));
    CHECK(std::get<model::heartbeat>(parsed).resource == "Thing");
    CHECK(may_be_heartbeat_for(msg, "Thing"));
  }
}

namespace {

struct bridge_fixture : test::deterministic_system {
  std::shared_ptr<std::vector<int>> routed = std::make_shared<std::vector<int>>();
  msg::kafka_bridge_actor bridge;

  bridge_fixture() {
    auto seen = routed;
    auto fleet = sys.spawn([seen](caf::event_based_actor*) -> caf::behavior {
      return {[seen](msg::heartbeat_atom, int instance, std::int64_t) { seen->push_back(instance); }};
    });
    bridge = actors::spawn_kafka_bridge(sys, "Thing", caf::actor_cast<msg::fleet_actor>(fleet));
    sched.run();
  }

  ~bridge_fixture() {
    self->send_exit(bridge, caf::exit_reason::user_shutdown);
    sched.run();
  }

  void consume(const std::string& value) {
    self->send(bridge, msg::kafka_atom::value, value);
    sched.run();
  }

  std::int64_t counter(const std::string& name) { return stats_counter(bridge, name); }
};

}  // namespace

TEST_CASE_METHOD(bridge_fixture,
                 "kafka_bridge: other types' heartbeats are skipped and counted, its own routed, "
                 "garbage naming it dropped by reason",
                 "[kafka_bridge]") {
  consume(R"({"resource":"Thing","instanceId":"3"})");
  consume(R"({"resource":"Hb1","instanceId":"4"})");
  consume(R"({"resource":"Things","instanceId":"5"})");
  consume(R"({"resource":"Hb1","instanceId":"6","note":"Thing"})");  // parsed, then ignored
  consume(R"({"resource":"\u0054hing","instanceId":7})");           // escaped name: still Thing
  consume(R"({"resource":"Thing","instanceId":"-1"})");             // names Thing: parsed, rejected
  consume(R"({"resource":"Thing")");                                  // names Thing: not JSON
  consume(R"({"resource":"Thing","instanceId":8})");
  CHECK(*routed == std::vector<int>{3, 7, 8});
  CHECK(counter("heartbeats_received") == 3);
  CHECK(counter("ignored_other_resource") == 3);
  CHECK(counter("dropped_bad_instance") == 1);
  CHECK(counter("dropped_not_json") == 1);
}
