// Deterministic tests of the resource_orchestrator with a fake ZooKeeper store: ordering,
// group commit, conflicts, reconnects and orchestrate, one message at a time.
#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/decision_log.hpp"
#include "actors/resource_orchestrator.hpp"
#include "fakes/deterministic_system.hpp"
#include "fakes/fake_zookeeper_store.hpp"
#include "tests/fixtures/ids.hpp"
#include "messages/errors.hpp"
#include "model/planner.hpp"
#include "model/zk_layout.hpp"

using namespace iota;
using model::action_kind;

namespace {

const std::string root = "/iota/orchestration/Thing";

struct fixture : test::deterministic_system {
  std::shared_ptr<test::fake_zookeeper_store> store = std::make_shared<test::fake_zookeeper_store>();
  std::shared_ptr<test::fixed_inventory> inventory = std::make_shared<test::fixed_inventory>();
  actors::orchestrator_settings settings;


  fixture()
  {
    settings.resource = "Thing";
    settings.options = model::resource_options{2, 100, 5};
  }

  ~fixture() {
    for (auto& a : spawned)
      self->send_exit(a, caf::exit_reason::user_shutdown);
    if (client)
      self->send_exit(client, caf::exit_reason::user_shutdown);
    sched.run();
  }

  std::vector<msg::orchestrator_actor> spawned;

  msg::orchestrator_actor spawn() {
    auto a = actors::spawn_resource_orchestrator(sys, settings, store, inventory);
    spawned.push_back(a);
    sched.run();
    return a;
  }

  // What the client actor got back for its requests.
  struct outcomes {
    std::size_t acks = 0;
    std::vector<std::string> errors;
  };
  std::shared_ptr<outcomes> seen = std::make_shared<outcomes>();
  caf::actor client;

  // Requests without waiting (as the MQTT bridge does); the reply is recorded when it comes.
  void send_event(const msg::orchestrator_actor& a, model::action_kind k, std::vector<std::string> ids) {
    if (!client) {
      auto out = seen;
      client = sys.spawn([out](caf::event_based_actor* c) -> caf::behavior {
        return {[=](msg::apply_atom, const msg::orchestrator_actor& target, msg::resource_event& ev) {
          c->request(target, caf::infinite, msg::apply_atom::value, std::move(ev))
            .then([out](msg::event_ack&) { ++out->acks; },
                  [out](caf::error& e) { out->errors.push_back(msg::refusal_text(e)); });
        }};
      });
    }
    self->send(client, msg::apply_atom::value, a, msg::resource_event{k, std::move(ids)});
  }

  // The replies recorded since the last call: acks counted, refusals as text.
  std::pair<std::size_t, std::vector<std::string>> replies() {
    sched.run();
    auto out = std::make_pair(seen->acks, seen->errors);
    *seen = outcomes{};
    return out;
  }

  template <class T>
  struct answer {
    std::optional<T> value;  // the reply, or
    std::string error;       // the refusal's text
  };

  // Requests, runs everything (releasing held io unless `release` is false), returns the reply.
  template <class T, class... Ts>
  answer<T> ask(const msg::orchestrator_actor& a, Ts&&... xs) {
    return ask_with<T>(true, a, std::forward<Ts>(xs)...);
  }

  template <class T, class... Ts>
  answer<T> ask_with(bool release, const msg::orchestrator_actor& a, Ts&&... xs) {
    auto rh = self->request(a, caf::infinite, std::forward<Ts>(xs)...);
    sched.run();
    while (release && store->release())
      sched.run();
    answer<T> out{std::nullopt, "no reply"};
    rh.receive([&](T& x) { out.value = std::move(x); },
               [&](caf::error& e) { out.error = msg::refusal_text(e); });
    return out;
  }

  model::orchestration_status status(const msg::orchestrator_actor& a) {
    auto s = ask_with<model::orchestration_status>(false, a, msg::status_atom::value);
    REQUIRE(s.value);
    return *s.value;
  }

  // The znodes, read back as the orchestrator itself would.
  model::orchestration znodes() const { return store->tree.load(root, 5); }
};

std::vector<std::string> ids(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i)
    out.push_back("id" + std::to_string(i));
  return out;
}

}  // namespace

TEST_CASE_METHOD(fixture, "an empty ZooKeeper loads as an empty orchestration", "[orchestrator]") {
  auto a = spawn();
  auto s = status(a);
  CHECK(s.ready);
  CHECK(s.instances.empty());
  CHECK(store->fetches == 1);
  CHECK(store->multis == 0);
}

TEST_CASE_METHOD(fixture, "existing znodes are carried on, never rebuilt from scratch",
                 "[orchestrator]") {
  model::orchestration before{5};
  model::change_set cs;
  for (auto& id : ids(0, 12))
    model::create_resource(before, id, cs);
  store->tree.commit(model::render(cs, before, root), before);
  auto a = spawn();
  auto s = status(a);
  CHECK(s.resources == 12);
  CHECK(s.instances.size() == 3);
  CHECK(store->multis == 0);  // loading writes nothing
  send_event(a, model::action_kind::create, {"id12"});
  sched.run();
  // createResource: highest instance id down, first with room -> instance 2 (holds 2 of 5)
  CHECK(znodes().where("id12") == 2);
  CHECK(store->tree.data(model::reload_path(root, 2)) == R"({"times":1})");
  CHECK(replies().first == 1);
}

TEST_CASE_METHOD(fixture, "the next batch goes out while one is in flight, and events queue behind two",
                 "[orchestrator][batching]") {
  settings.options.resource_per_instance = 1000;
  auto a = spawn();
  store->hold = true;
  send_event(a, model::action_kind::create, {"first"});
  sched.run();
  REQUIRE(store->held() == 1);  // the first event's multi is out
  for (auto& id : ids(0, 200))
    send_event(a, model::action_kind::create, {id});
  send_event(a, model::action_kind::destroy, {"id7"});
  send_event(a, model::action_kind::update, {"id8"});
  sched.run();
  CHECK(store->multis == 2);  // pipelined: applied and sent while the first is in flight
  CHECK(store->held() == 2);
  for (auto& id : ids(200, 210))
    send_event(a, model::action_kind::create, {id});
  sched.run();
  CHECK(store->multis == 2);  // two batches in flight: these wait
  CHECK(replies().first == 0);
  store->release();
  sched.run();
  CHECK(replies().first == 1);  // the first event, durable with its multi
  CHECK(store->multis == 3);    // the 10 waiting events in one multi
  while (store->release())
    sched.run();
  auto [acks, errors] = replies();
  CHECK(acks == 212);  // the other 202 + 10
  CHECK(errors.empty());
  auto zk = znodes();
  CHECK(zk.resources() == 210);  // first + 210 - id7
  CHECK_FALSE(zk.where("id7"));
  CHECK(zk.where("id8"));
  // One bump per batch for the instance they touched: created (0), then two batches; the
  // versions the pipelined batches expected were right (no conflict, no re-read).
  CHECK(store->tree.data(model::reload_path(root, 0)) == R"({"times":2})");
  CHECK(store->fetches == 1);
}

TEST_CASE_METHOD(fixture, "a write failing with a later batch in flight re-reads and applies both again, none lost or doubled",
                 "[orchestrator][batching][conflict]") {
  settings.options.resource_per_instance = 1000;
  auto a = spawn();
  store->hold = true;
  store->fail_next_multi = io::zk_bad_version;  // someone else wrote: the first multi fails
  send_event(a, model::action_kind::create, {"first"});
  sched.run();
  REQUIRE(store->held() == 1);
  for (auto& id : ids(0, 50))
    send_event(a, model::action_kind::create, {id});
  sched.run();
  REQUIRE(store->held() == 2);  // the second batch went out behind the first
  while (store->release())
    sched.run();
  auto [acks, errors] = replies();
  CHECK(acks == 51);
  CHECK(errors.empty());
  auto zk = znodes();
  CHECK(zk.resources() == 51);  // each once (the model's load refuses an id on two instances)
  CHECK(zk.where("first") == 0);
  CHECK(zk.where("id49") == 0);
  CHECK(store->fetches == 2);   // the load, then the re-read after the failure
  auto s = ask<msg::actor_stats>(a, msg::stats_atom::value);
  REQUIRE(s.value.has_value());
  std::int64_t conflicts = -1;
  for (auto& [name, v] : s.value->counters)
    if (name == "write_conflicts")
      conflicts = v;
  CHECK(conflicts == 1);
}

TEST_CASE_METHOD(fixture, "batch size 1 is the seed's one multi per event", "[orchestrator][batching]") {
  settings.batch_size = 1;
  settings.options.resource_per_instance = 1000;
  auto a = spawn();
  store->hold = true;
  for (auto& id : ids(0, 50))
    send_event(a, model::action_kind::create, {id});
  sched.run();
  while (store->release())
    sched.run();
  CHECK(store->multis == 50);
  CHECK(replies().first == 50);
  CHECK(store->tree.data(model::reload_path(root, 0)) == R"({"times":49})");
}

TEST_CASE_METHOD(fixture, "a redelivered event acks without writing", "[orchestrator]") {
  auto a = spawn();
  send_event(a, model::action_kind::create, {"x"});
  sched.run();
  auto multis = store->multis;
  send_event(a, model::action_kind::create, {"x"});
  send_event(a, model::action_kind::destroy, {"never-seen"});
  send_event(a, model::action_kind::update, {"never-seen"});
  sched.run();
  CHECK(store->multis == multis);
  CHECK(replies().first == 4);
}

TEST_CASE_METHOD(fixture, "an outside write is detected by version and both changes survive",
                 "[orchestrator][conflict]") {
  auto a = spawn();
  send_event(a, model::action_kind::create, {"a", "b"});
  sched.run();
  // Someone else adds "z" to instance 0 behind our back.
  store->tree.outside_set(model::resources_path(root, 0), R"({"ids":["a","b","z"]})");
  store->tree.outside_set(model::instance_path(root, 0), R"({"used":3,"count":5})");
  auto fetches = store->fetches;
  send_event(a, model::action_kind::create, {"c"});
  sched.run();
  CHECK(store->fetches == fetches + 1);  // the version check failed, it re-read
  auto zk = znodes();
  CHECK(zk.where("z") == 0);  // their change kept
  CHECK(zk.where("c") == 0);  // ours applied after the re-read
  CHECK(zk.find(0)->used() == 4);
  auto [acks, errors] = replies();
  CHECK(acks == 2);
  CHECK(errors.empty());
}

TEST_CASE_METHOD(fixture, "a lost connection mid-multi re-reads and applies each event once",
                 "[orchestrator][conflict]") {
  auto a = spawn();
  send_event(a, model::action_kind::create, {"a"});
  sched.run();
  store->fail_next_multi = io::zk_connection_loss;  // outcome unknown to the client
  send_event(a, model::action_kind::create, {"b"});
  sched.run();
  auto zk = znodes();
  CHECK(zk.where("b") == 0);
  CHECK(zk.find(0)->ids == std::vector<std::string>{"a", "b"});
  CHECK(replies().first == 2);
}

TEST_CASE_METHOD(fixture, "while ZooKeeper is away events wait, bounded, then go out",
                 "[orchestrator][queue]") {
  settings.max_queued_events = 5;
  auto a = spawn();
  store->set_session(io::session_state::connecting, 1);
  sched.run();
  for (auto& id : ids(0, 7))
    send_event(a, model::action_kind::create, {id});
  sched.run();
  auto [acks, errors] = replies();
  CHECK(acks == 0);
  REQUIRE(errors.size() == 2);  // the 6th and 7th: refused, not dropped silently
  CHECK(errors[0] == "event queue of Thing is full");
  CHECK(store->multis == 0);
  CHECK(status(a).queued_events == 5);
  store->set_session(io::session_state::connected, 1);
  sched.run();
  CHECK(replies().first == 5);
  CHECK(znodes().resources() == 5);
}

TEST_CASE_METHOD(fixture, "a new session rebuilds from the znodes before writing",
                 "[orchestrator][queue]") {
  auto a = spawn();
  send_event(a, model::action_kind::create, {"a"});
  sched.run();
  store->set_session(io::session_state::expired, 1);
  sched.run();
  // While away, the truth changed (another daemon, a restore): "a" is gone, "q" is there.
  store->tree.outside_set(model::resources_path(root, 0), R"({"ids":["q"]})");
  send_event(a, model::action_kind::create, {"b"});
  sched.run();
  CHECK(store->multis == 1);
  auto fetches = store->fetches;
  store->set_session(io::session_state::connected, 2);
  sched.run();
  CHECK(store->fetches == fetches + 1);
  auto zk = znodes();
  CHECK(zk.where("q") == 0);
  CHECK(zk.where("b") == 0);
  CHECK_FALSE(zk.where("a"));
}

TEST_CASE_METHOD(fixture, "orchestrate places the inventory with section 3's arithmetic",
                 "[orchestrator][orchestrate]") {
  inventory->ids = ids(0, 23);
  auto a = spawn();
  auto r = ask<model::orchestration_status>(a, msg::orchestrate_atom::value,
                                            model::orchestrate_request{settings.options, false});
  REQUIRE(r.value.has_value());
  auto& s = *r.value;
  // 23 / 5 + 1 = 5 instances >= init 2, capacity 5
  CHECK(s.instances.size() == 5);
  CHECK(s.resources == 23);
  CHECK(s.orchestrate_success);
  CHECK_FALSE(s.orchestrating);
  auto zk = znodes();
  CHECK(zk.resources() == 23);
  for (auto& [id, inst] : zk.instances())
    CHECK(inst.capacity == 5);
}

TEST_CASE_METHOD(fixture, "a second orchestrate while one runs is refused", "[orchestrator][orchestrate]") {
  inventory->ids = ids(0, 23);
  auto a = spawn();
  store->hold = true;
  self->send(a, msg::orchestrate_atom::value, model::orchestrate_request{settings.options, false});
  sched.run();
  CHECK(status(a).orchestrating);
  auto second = ask_with<model::orchestration_status>(false, a, msg::orchestrate_atom::value,
                                                 model::orchestrate_request{settings.options, false});
  REQUIRE(!second.value);
  CHECK(second.error == "an orchestrate of Thing is already running");
}

TEST_CASE_METHOD(fixture, "an over-max orchestrate fails with the seed's text and changes nothing",
                 "[orchestrator][orchestrate]") {
  inventory->ids = ids(0, 40);
  auto a = spawn();
  auto r = ask<model::orchestration_status>(a, msg::orchestrate_atom::value,
                                            model::orchestrate_request{{1, 3, 5}, false});
  REQUIRE(!r.value);
  CHECK(r.error == "require instances more than the max: 9/3");
  auto s = status(a);
  CHECK_FALSE(s.orchestrate_success);
  CHECK_FALSE(s.orchestrating);
  CHECK(s.last_error == "require instances more than the max: 9/3");
  CHECK(store->multis == 0);
}

TEST_CASE_METHOD(fixture, "a dry run plans without writing", "[orchestrator][orchestrate]") {
  inventory->ids = ids(0, 23);
  auto a = spawn();
  auto r = ask<std::string>(a, msg::plan_atom::value,
                            model::orchestrate_request{settings.options, true});
  REQUIRE(r.value);
  auto plan = nlohmann::json::parse(*r.value);
  CHECK(plan["instances"] == 5);
  CHECK(plan["resourcePerInstance"] == 5);
  CHECK(plan["added"].size() == 5);
  CHECK(plan["placements"] == 23);
  CHECK(store->multis == 0);
  CHECK(znodes().empty());
}

TEST_CASE_METHOD(fixture, "throttled re-orchestrate moves in steps while events flow",
                 "[orchestrator][orchestrate]") {
  inventory->ids = ids(0, 40);
  settings.options = model::resource_options{1, 100, 10};
  auto a = spawn();
  auto first = ask<model::orchestration_status>(a, msg::orchestrate_atom::value,
                                                model::orchestrate_request{settings.options, false});
  REQUIRE(first.value.has_value());
  CHECK(first.value->instances.size() == 5);  // 40/10+1
  // Halve the capacity: 40/5+1 = 9 instances of 5: 4 new, 15 ids must move.
  self->send_exit(a, caf::exit_reason::user_shutdown);
  sched.run();
  settings.max_moves_per_step = 4;
  auto b = spawn();
  auto multis = store->multis;
  auto second = ask<model::orchestration_status>(b, msg::orchestrate_atom::value,
                                                 model::orchestrate_request{{1, 100, 5}, false});
  REQUIRE(second.value.has_value());
  CHECK(store->multis - multis >= 4);  // 15 moves in steps of 4
  auto zk = znodes();
  CHECK(zk.instances().size() == 9);
  CHECK(zk.resources() == 40);
  for (auto& [id, inst] : zk.instances()) {
    CHECK(inst.capacity == 5);
    CHECK(inst.used() <= 5);
  }
}

TEST_CASE_METHOD(fixture, "drain empties an instance into the others, then removes it",
                 "[orchestrator][orchestrate]") {
  inventory->ids = ids(0, 6);  // 6/10+1 < 3: 3 instances of 6/3+1 = 3, holding 2 each
  settings.options = model::resource_options{3, 100, 10};
  auto a = spawn();
  REQUIRE(ask<model::orchestration_status>(a, msg::orchestrate_atom::value,
                                           model::orchestrate_request{settings.options, false})
            .value);
  auto r = ask<model::orchestration_status>(a, msg::drain_atom::value, model::instance_id{1});
  REQUIRE(r.value.has_value());
  auto zk = znodes();
  CHECK_FALSE(zk.contains(1));
  CHECK(zk.resources() == 6);
  CHECK_FALSE(store->tree.exists(model::tmp_path(root, 1)));
  auto missing = ask<model::orchestration_status>(a, msg::drain_atom::value, model::instance_id{7});
  REQUIRE(!missing.value);
  CHECK(missing.error == "instance 7 of Thing does not exist");
}

TEST_CASE_METHOD(fixture, "lookup answers the holding instance or not found", "[orchestrator]") {
  auto a = spawn();
  send_event(a, model::action_kind::create, {"dev-1"});
  sched.run();
  replies();
  auto hit = ask<model::instance_id>(a, msg::lookup_atom::value, std::string{"dev-1"});
  REQUIRE(hit.value.has_value());
  CHECK(*hit.value == 0);
  auto miss = ask<model::instance_id>(a, msg::lookup_atom::value, std::string{"nope"});
  REQUIRE(!miss.value);
  CHECK(miss.error == "resource nope of Thing is on no instance");
}

TEST_CASE_METHOD(fixture, "stats count messages per type", "[orchestrator][stats]") {
  auto a = spawn();
  for (auto& id : ids(0, 3))
    send_event(a, model::action_kind::create, {id});
  sched.run();
  replies();
  auto s = ask<msg::actor_stats>(a, msg::stats_atom::value);
  REQUIRE(s.value.has_value());
  auto& st = *s.value;
  CHECK(st.actor == "resource_orchestrator/Thing");
  bool found = false;
  for (auto& h : st.handlers)
    if (h.message == "apply") {
      found = true;
      CHECK(h.received == 3);
      CHECK(h.handled == 3);
    }
  CHECK(found);
}

TEST_CASE_METHOD(fixture, "why: each id of a bulk orchestrate of 400,000 finds the decision that placed it, with no "
                          "copy per id in the history",
                 "[orchestrator][history]") {
  auto history = std::make_shared<actors::decision_log>();
  settings.history = history;
  settings.options = model::resource_options{10, 100, 5000};
  inventory->ids = test::uuids(400000, 41);
  auto a = spawn();
  auto r = ask<model::orchestration_status>(a, msg::orchestrate_atom::value,
                                            model::orchestrate_request{settings.options, false});
  REQUIRE(r.value);
  REQUIRE(r.value->resources == 400000);
  for (auto* id : {&inventory->ids.front(), &inventory->ids[199999], &inventory->ids.back()}) {
    INFO(*id);
    model::instance_id where = -1;
    std::uint64_t decided_by = 0;
    auto rh = self->request(a, caf::infinite, msg::why_atom::value, *id);
    sched.run();
    rh.receive([&](model::instance_id w, std::uint64_t d) { where = w; decided_by = d; }, [](caf::error&) {});
    REQUIRE(where >= 0);
    REQUIRE(decided_by != 0);
    auto why = history->about("Thing", *id, decided_by);
    REQUIRE(why.size() >= 1);
    CHECK(why[0].seq == decided_by);
    CHECK(why[0].kind == "placed");
    CHECK(why[0].cause == "orchestrate");
    CHECK(why[0].instance == std::to_string(where));
    CHECK(why[0].count > 4000);  // the ids that decision put on that instance
    CHECK(why[0].ids.size() == model::max_listed_ids);
  }
  // Bounded memory: one decision per instance (and the orchestrate's start and end), each
  // listing at most 100 ids, for 400,000 placed ids.
  model::decision_filter all;
  all.limit = 10000;
  auto kept = history->query(all);
  CHECK(kept.size() < 2 * r.value->instances.size() + 5);
  std::size_t listed = 0;
  for (auto& d : kept)
    listed += d.ids.size();
  CHECK(listed <= model::max_listed_ids * kept.size());
}

TEST_CASE_METHOD(fixture, "the history records an orchestrate, a drain's moves and removal, a reconcile's repairs and "
                          "a refused orchestrate, with their causes",
                 "[orchestrator][history]") {
  auto history = std::make_shared<actors::decision_log>();
  settings.history = history;
  inventory->ids = ids(0, 6);
  settings.options = model::resource_options{3, 100, 10};
  auto a = spawn();
  REQUIRE(ask<model::orchestration_status>(a, msg::orchestrate_atom::value,
                                           model::orchestrate_request{settings.options, false})
            .value);
  REQUIRE(ask<model::orchestration_status>(a, msg::drain_atom::value, model::instance_id{1}).value);
  // The inventory changes behind the daemon's back: one id gone, one new; a reconcile repairs.
  inventory->ids = ids(1, 7);
  auto rec = ask<msg::reconcile_report>(a, msg::reconcile_atom::value);
  REQUIRE(rec.value);
  CHECK(rec.value->created == 1);
  CHECK(rec.value->deleted == 1);
  // More instances than allowed: refused, and recorded as such.
  auto refused = ask<model::orchestration_status>(a, msg::orchestrate_atom::value,
                                                  model::orchestrate_request{model::resource_options{3, 1, 1}, false});
  REQUIRE_FALSE(refused.value);

  model::decision_filter all;
  all.limit = 1000;
  auto events = history->query(all);
  auto count = [&](const std::string& kind, const std::string& cause) {
    return std::count_if(events.begin(), events.end(), [&](auto& d) { return d.kind == kind && d.cause == cause; });
  };
  CHECK(count("placed", "orchestrate") == 3);  // one per instance
  CHECK(count("moved", "drain") >= 1);         // instance 1's ids, to the others
  CHECK(count("instance_removed", "drain") == 1);
  CHECK(count("placed", "reconcile") == 1);
  CHECK(count("removed", "reconcile") == 1);
  CHECK(count("reconcile", "reconcile") == 1);
  CHECK(count("orchestrate", "orchestrate") == 3);  // started, finished; and the refused one
  CHECK(count("orchestrate", "drain") == 2);        // started, finished
  auto refusal = std::find_if(events.begin(), events.end(), [](auto& d) {
    return d.kind == "orchestrate" && d.detail.rfind("refused: ", 0) == 0;
  });
  REQUIRE(refusal != events.end());
  // Newest first, each numbered once.
  for (std::size_t i = 1; i < events.size(); ++i)
    CHECK(events[i - 1].seq > events[i].seq);
  // The moved ids say where they came from, and a lookup finds the move.
  auto moved = std::find_if(events.begin(), events.end(), [](auto& d) { return d.kind == "moved"; });
  REQUIRE(moved != events.end());
  CHECK(moved->detail == "from instance [1]");
}
