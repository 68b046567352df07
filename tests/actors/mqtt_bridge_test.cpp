// The mqtt_bridge with a real orchestrator over the fake store and a real journal in a temp
// dir, one message at a time: routing of every notify shape, drops by reason, and the
// journal's commit mark that only passes a notify once it is durable.
#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/mqtt_bridge.hpp"
#include "actors/resource_orchestrator.hpp"
#include "fakes/deterministic_system.hpp"
#include "fakes/fake_zookeeper_store.hpp"
#include "io/notify_intake.hpp"
#include "io/notify_journal.hpp"
#include "fakes/fake_notify_settlement.hpp"
#include "model/zk_layout.hpp"
#include "tests/fixtures/process.hpp"

using namespace iota;

namespace {

struct fixture : test::deterministic_system {
  std::shared_ptr<test::fake_zookeeper_store> store = std::make_shared<test::fake_zookeeper_store>();
  test::temp_dir dir;
  std::shared_ptr<io::notify_journal> journal;
  std::shared_ptr<io::intake_window> window = std::make_shared<io::intake_window>(1000);
  msg::orchestrator_actor thing, rule;
  msg::mqtt_bridge_actor bridge;


  fixture()
  {
    std::vector<io::journal_record> pending;
    journal = std::make_shared<io::notify_journal>(io::journal_settings{dir.path() + "/j"}, pending);
    actors::orchestrator_settings s;
    s.options = model::resource_options{1, 100, 100};
    s.resource = "Thing";
    thing = actors::spawn_resource_orchestrator(sys, s, store, nullptr);
    s.resource = "Rule";
    rule = actors::spawn_resource_orchestrator(sys, s, store, nullptr);
    actors::mqtt_bridge_settings b;
    b.routing.resources = {"Thing", "Rule"};
    b.routing.dependents["ProtocolMeta"] = {"Thing"};
    b.routing.dependents["DeviceMeta"] = {"Thing"};
    bridge = actors::spawn_mqtt_bridge(sys, b, {{"Thing", thing}, {"Rule", rule}},
                                       std::make_shared<io::notify_intake>(journal, window, nullptr));
    sched.run();
  }

  ~fixture() {
    for (auto a : {caf::actor_cast<caf::actor>(thing), caf::actor_cast<caf::actor>(rule),
                   caf::actor_cast<caf::actor>(bridge)})
      self->send_exit(a, caf::exit_reason::user_shutdown);
    sched.run();
  }

  // As the intake does: journal first, then the bridge.
  void publish(const std::string& payload) {
    window->acquire();
    auto seq = journal->append(payload);
    self->send(bridge, msg::notify_atom::value, seq, payload);
    sched.run();
  }

  model::orchestration znodes(const std::string& r) const {
    return store->tree.load(model::resource_path(r), 100);
  }

  std::int64_t counter(const std::string& name) { return stats_counter(bridge, name); }
};

}  // namespace

TEST_CASE_METHOD(fixture, "every notify shape changes the znodes as the spec says", "[mqtt_bridge]") {
  publish(R"({"o":"c","t":"Thing","k":{"id":"a"},"instance":{"id":"a","name":"x"}})");
  publish(R"({"o":"c","t":"Thing","k":"b"})");
  publish(R"({"o":"c","t":"Thing","k":42})");
  publish(R"({"o":"bc","t":"Thing","keys":[{"id":"c"},"d",7]})");
  publish(R"({"o":"c","t":"Rule","k":{"id":"r1"}})");
  auto things = znodes("Thing");
  for (auto id : {"a", "b", "42", "c", "d", "7"})
    CHECK(things.where(id).has_value());
  CHECK(znodes("Rule").where("r1").has_value());
  auto times = [&] { return *model::decode_reload(store->tree.data(model::reload_path("/iota/orchestration/Thing", 0))); };
  auto before = times();
  publish(R"({"o":"u","t":"Thing","k":{"id":"a"}})");
  CHECK(times() == before + 1);
  publish(R"({"o":"bu","t":"Thing","where":{"id":["b","c"]}})");
  CHECK(times() == before + 2);  // one multi, one bump
  publish(R"({"o":"ProtocolMeta_changed","t":"ProtocolMeta"})");
  CHECK(times() == before + 3);  // a dependency table reloads every Thing instance
  publish(R"({"o":"d","t":"Thing","k":{"id":"a"}})");
  publish(R"({"o":"bd","t":"Thing","where":{"id":"b"}})");
  publish(R"({"o":"bd","t":"Thing","where":{"id":["c",42]}})");
  things = znodes("Thing");
  for (auto id : {"a", "b", "c", "42"})
    CHECK_FALSE(things.where(id).has_value());
  CHECK(things.resources() == 2);
  CHECK(journal->committed() == journal->last_seq());
  CHECK(window->in_use() == 0);
}

TEST_CASE_METHOD(fixture, "bad notifies are counted by reason and dropped - the stream goes on",
                 "[mqtt_bridge]") {
  publish("not json at all");
  publish(std::string("\x00\xff\xfe garbage", 12));
  publish(R"([1,2,3])");
  publish(R"({"t":"Thing","k":"x"})");
  publish(R"({"o":"c","k":"x"})");
  publish(R"({"o":"c","t":"Nope","k":"x"})");
  publish(R"({"o":"c","t":"Thing"})");
  publish(R"({"o":"truncate","t":"Thing"})");
  publish(std::string(2 * 1024 * 1024, '{'));
  publish(R"({"o":"c","t":"Thing","k":"good"})");
  CHECK(znodes("Thing").where("good").has_value());
  CHECK(counter("dropped_not_json") == 2);
  CHECK(counter("dropped_not_object") == 1);
  CHECK(counter("dropped_missing_o") == 1);
  CHECK(counter("dropped_missing_t") == 1);
  CHECK(counter("dropped_unknown_table") == 1);
  CHECK(counter("dropped_missing_id") == 1);
  CHECK(counter("dropped_unhandled_op") == 1);
  CHECK(counter("dropped_too_large") == 1);
  CHECK(journal->committed() == journal->last_seq());
}

TEST_CASE_METHOD(fixture, "the journal mark passes a notify only once it is durable", "[mqtt_bridge]") {
  publish(R"({"o":"c","t":"Thing","k":"a"})");
  auto durable = journal->committed();
  CHECK(durable == 1);
  store->hold = true;
  publish(R"({"o":"c","t":"Thing","k":"b"})");
  publish(R"({"o":"c","t":"Thing","k":"c"})");
  publish("garbage");  // dropped at once, but behind two notifies not yet durable
  CHECK(journal->committed() == durable);
  CHECK(window->in_use() == 2);
  while (store->release())
    sched.run();
  CHECK(journal->committed() == 4);
  CHECK(window->in_use() == 0);
}

TEST_CASE("the bridge settles each notify with the intake, the mark never passing one still awaited",
          "[mqtt_bridge]") {
  test::deterministic_system d;
  auto store = std::make_shared<test::fake_zookeeper_store>();
  actors::orchestrator_settings s;
  s.options = model::resource_options{1, 100, 100};
  s.resource = "Thing";
  auto thing = actors::spawn_resource_orchestrator(d.sys, s, store, nullptr);
  auto intake = std::make_shared<test::fake_notify_settlement>(41);  // notifies up to 41 were durable
  actors::mqtt_bridge_settings b;
  b.routing.resources = {"Thing"};
  auto bridge = actors::spawn_mqtt_bridge(d.sys, b, {{"Thing", thing}}, intake);
  d.sched.run();
  store->hold = true;  // the first write stays in flight
  intake->handed_on = 3;
  d.self->send(bridge, msg::notify_atom::value, std::uint64_t{42}, std::string{R"({"o":"c","t":"Thing","k":{"id":"a"}})"});
  d.self->send(bridge, msg::notify_atom::value, std::uint64_t{43}, std::string{"not json"});
  d.self->send(bridge, msg::notify_atom::value, std::uint64_t{44}, std::string{R"({"o":"c","t":"Nope","k":"x"})"});
  d.sched.run();
  // The two dropped ones are settled at once, but the mark stays below 42, still awaited.
  CHECK(intake->settled() == 2);
  CHECK(intake->marks() == std::vector<std::uint64_t>{41, 41});
  CHECK(intake->in_flight() == 1);
  store->hold = false;
  while (store->release())
    d.sched.run();
  d.sched.run();
  CHECK(intake->settled() == 3);
  CHECK(intake->marks() == std::vector<std::uint64_t>{41, 41, 44});
  CHECK(intake->in_flight() == 0);
  for (auto a : {caf::actor_cast<caf::actor>(thing), caf::actor_cast<caf::actor>(bridge)})
    d.self->send_exit(a, caf::exit_reason::user_shutdown);
  d.sched.run();
}
