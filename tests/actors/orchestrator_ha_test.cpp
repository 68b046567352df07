// Deterministic tests of the resource_orchestrator's reconcile (SPEC 9) and leadership
// (SPEC 10) with the fake ZooKeeper store: a follower reads but refuses writes naming the
// leader, a deposed leader's write is fenced and not retried, reconcile repairs the
// difference with the inventory without undoing notifies that raced with it.
#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/resource_orchestrator.hpp"
#include "fakes/deterministic_system.hpp"
#include "fakes/fake_zookeeper_store.hpp"
#include "messages/errors.hpp"
#include "messages/liveness.hpp"
#include "model/planner.hpp"
#include "model/zk_layout.hpp"

using namespace iota;
using model::action_kind;

namespace {

const std::string root = "/iota/orchestration/Thing";
const std::string election = "/iota/orchestrator/leader/Thing";

// An inventory whose answer the test releases when it wants.
class held_inventory : public io::inventory_source {
 public:
  std::vector<std::string> ids;
  std::string error;
  std::vector<std::function<void(io::inventory_result)>> pending;
  std::size_t loads = 0;
  void load(std::function<void(io::inventory_result)> done) override {
    ++loads;
    pending.push_back(std::move(done));
  }
  std::string describe() const override { return "held"; }
  bool answer() {
    if (pending.empty())
      return false;
    auto f = std::move(pending.front());
    pending.erase(pending.begin());
    io::inventory_result r;
    r.ok = error.empty();
    r.ids = ids;
    r.error = error;
    f(std::move(r));
    return true;
  }
};

std::vector<std::string> ids(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i)
    out.push_back("id" + std::to_string(i));
  return out;
}

struct fixture : test::deterministic_system {
  std::shared_ptr<test::fake_zookeeper_store> store = std::make_shared<test::fake_zookeeper_store>();
  std::shared_ptr<held_inventory> inventory = std::make_shared<held_inventory>();
  actors::orchestrator_settings settings;
  std::vector<msg::orchestrator_actor> spawned;
  caf::actor client;
  caf::actor listener;
  std::shared_ptr<std::vector<std::string>> errors = std::make_shared<std::vector<std::string>>();
  std::shared_ptr<std::size_t> acks = std::make_shared<std::size_t>(0);
  std::shared_ptr<std::map<int, bool>> running = std::make_shared<std::map<int, bool>>();

  fixture() {
    settings.resource = "Thing";
    settings.options = model::resource_options{2, 100, 5};
  }
  ~fixture() {
    for (auto& a : spawned)
      self->send_exit(a, caf::exit_reason::user_shutdown);
    for (auto& a : {client, listener})
      if (a)
        self->send_exit(a, caf::exit_reason::user_shutdown);
    sched.run();
  }

  msg::orchestrator_actor spawn() {
    auto a = actors::spawn_resource_orchestrator(sys, settings, store, inventory);
    spawned.push_back(a);
    auto r = running;
    listener = sys.spawn([r](caf::event_based_actor*) -> caf::behavior {
      return {[r](msg::instance_atom, const std::string&, msg::instance_change change, int id) {
        (*r)[id] = change == msg::instance_change::added;
      }};
    });
    self->send(a, msg::register_atom::value, listener);
    sched.run();
    return a;
  }

  void send_event(const msg::orchestrator_actor& a, model::action_kind k, std::vector<std::string> v) {
    if (!client) {
      auto e = errors;
      auto n = acks;
      client = sys.spawn([e, n](caf::event_based_actor* c) -> caf::behavior {
        return {[=](msg::apply_atom, const msg::orchestrator_actor& target, msg::resource_event& ev) {
          c->request(target, caf::infinite, msg::apply_atom::value, std::move(ev))
            .then([n](msg::event_ack&) { ++*n; },
                  [e](caf::error& err) { e->push_back(msg::refusal_text(err)); });
        }};
      });
    }
    self->send(client, msg::apply_atom::value, a, msg::resource_event{k, std::move(v)});
  }

  template <class T, class... Ts>
  std::pair<std::optional<T>, std::string> ask(const msg::orchestrator_actor& a, Ts&&... xs) {
    auto rh = self->request(a, caf::infinite, std::forward<Ts>(xs)...);
    sched.run();
    while (inventory->answer() || store->release())
      sched.run();
    std::pair<std::optional<T>, std::string> out{std::nullopt, "no reply"};
    rh.receive([&](T& x) { out.first = std::move(x); },
               [&](caf::error& e) { out.second = msg::refusal_text(e); });
    return out;
  }

  std::int64_t counter(const msg::orchestrator_actor& a, const std::string& name) {
    auto s = ask<msg::actor_stats>(a, msg::stats_atom::value);
    REQUIRE(s.first);
    for (auto& [k, v] : s.first->counters)
      if (k == name)
        return v;
    return 0;
  }

  // A placed layout written as another daemon would have.
  void seed(const std::vector<std::string>& v) {
    auto o = store->tree.load(root, 5);
    model::change_set cs;
    for (auto& id : v)
      model::create_resource(o, id, cs);
    store->tree.commit(model::render(cs, o, root), o);
  }

  std::string make_election_node(const std::string& name) {
    model::zk_op p{model::zk_op::kind::create, election, "", -1};
    model::zk_op n{model::zk_op::kind::create, election + "/" + name, "{}", -1};
    if (!store->tree.exists(election))
      store->tree.apply({&p});
    store->tree.apply({&n});
    return election + "/" + name;
  }
  void remove_node(const std::string& path) {
    model::zk_op r{model::zk_op::kind::remove, path, "", -1};
    store->tree.apply({&r});
  }

  model::orchestration znodes() const { return store->tree.load(root, 5); }
};

}  // namespace

TEST_CASE_METHOD(fixture, "reconcile creates missing ids and deletes ids gone from the inventory",
                 "[orchestrator][reconcile]") {
  seed(ids(0, 12));
  inventory->ids = ids(2, 15);  // id0, id1 gone; id12..id14 new
  settings.reconcile_interval = std::chrono::hours{1};
  auto a = spawn();
  REQUIRE(inventory->loads == 1);  // on start, after the first load
  inventory->answer();
  sched.run();
  auto zk = znodes();
  CHECK(zk.resources() == 13);
  CHECK_FALSE(zk.where("id0"));
  CHECK_FALSE(zk.where("id1"));
  CHECK(zk.where("id14"));
  CHECK(counter(a, "reconciles") == 1);
  CHECK(counter(a, "reconcile_created") == 3);
  CHECK(counter(a, "reconcile_deleted") == 2);
  // On request: in step now, nothing to do.
  auto r = ask<msg::reconcile_report>(a, msg::reconcile_atom::value);
  REQUIRE(r.first);
  CHECK(r.first->inventory == 13);
  CHECK(r.first->created == 0);
  CHECK(r.first->deleted == 0);
  // The inventory changes: the next one (here on request) repairs it.
  inventory->ids.push_back("id99");
  r = ask<msg::reconcile_report>(a, msg::reconcile_atom::value);
  REQUIRE(r.first);
  CHECK(r.first->created == 1);
  CHECK(znodes().where("id99"));
  CHECK(counter(a, "reconciles") == 3);
}

TEST_CASE_METHOD(fixture, "reconcile on the timer, skipped without an orchestration, failures change nothing",
                 "[orchestrator][reconcile]") {
  settings.reconcile_interval = std::chrono::minutes{10};
  inventory->ids = ids(0, 5);
  auto a = spawn();
  CHECK(inventory->loads == 0);  // empty ZooKeeper: nobody orchestrated yet
  auto r = ask<msg::reconcile_report>(a, msg::reconcile_atom::value);
  REQUIRE(r.first);
  CHECK(r.first->skipped);
  CHECK(store->multis == 0);
  CHECK(counter(a, "reconciles_skipped") == 2);
  // Another daemon orchestrated; then the inventory fails: counted, nothing written.
  seed(ids(0, 3));
  store->set_session(io::session_state::connected, 2);  // a new session: re-read, reconcile
  sched.run();
  REQUIRE(inventory->loads == 1);
  inventory->error = "connection refused";
  inventory->answer();
  sched.run();
  CHECK(counter(a, "reconcile_failures") == 1);
  CHECK(store->multis == 0);
  // The timer's next round succeeds.
  inventory->error.clear();
  sched.trigger_timeouts();
  sched.run();
  REQUIRE(inventory->loads == 2);
  inventory->answer();
  sched.run();
  CHECK(znodes().resources() == 5);
  CHECK(counter(a, "reconcile_created") == 2);
}

TEST_CASE_METHOD(fixture, "reconcile does not undo notifies applied while its inventory loaded",
                 "[orchestrator][reconcile]") {
  seed({"a", "b", "dropped"});
  // The snapshot: read before "late" was committed and before "dropped" was deleted.
  inventory->ids = {"a", "b", "dropped", "missing"};
  auto a = spawn();
  auto rh = self->request(a, caf::infinite, msg::reconcile_atom::value);
  sched.run();
  REQUIRE(inventory->pending.size() == 1);
  send_event(a, model::action_kind::create, {"late"});
  send_event(a, model::action_kind::destroy, {"dropped"});
  sched.run();
  CHECK(*acks == 2);
  inventory->answer();
  sched.run();
  std::optional<msg::reconcile_report> report;
  rh.receive([&](msg::reconcile_report& r) { report = r; }, [&](caf::error&) {});
  REQUIRE(report);
  CHECK(report->created == 1);  // "missing" only
  CHECK(report->deleted == 0);  // "late" stays
  auto zk = znodes();
  CHECK(zk.where("late"));
  CHECK(zk.where("missing"));
  CHECK_FALSE(zk.where("dropped"));
}

TEST_CASE_METHOD(fixture, "a follower answers reads from ZooKeeper and refuses writes naming the leader",
                 "[orchestrator][leader]") {
  settings.elected = true;
  seed(ids(0, 7));
  auto a = spawn();
  self->send(a, msg::leader_atom::value,
             msg::leadership{false, true, "", R"({"daemon":"other:42","http":"10.0.0.2:8080"})"});
  sched.run();
  // The leader writes more meanwhile; the follower's reads see it.
  seed({"id50"});
  auto where = ask<model::instance_id>(a, msg::lookup_atom::value, std::string{"id50"});
  CHECK(where.first);
  auto s = ask<model::orchestration_status>(a, msg::status_atom::value);
  REQUIRE(s.first);
  CHECK(s.first->resources == 8);
  CHECK(s.first->ready);
  auto multis = store->multis;
  send_event(a, model::action_kind::create, {"x"});
  sched.run();
  REQUIRE(errors->size() == 1);
  CHECK(errors->front() == "not the leader of Thing; the leader is other:42 at 10.0.0.2:8080");
  auto o = ask<model::orchestration_status>(a, msg::orchestrate_atom::value, model::orchestrate_request{});
  CHECK(o.second == "not the leader of Thing; the leader is other:42 at 10.0.0.2:8080");
  auto d = ask<model::orchestration_status>(a, msg::drain_atom::value, model::instance_id{0});
  CHECK(d.second.find("not the leader of Thing") == 0);
  auto r = ask<msg::reconcile_report>(a, msg::reconcile_atom::value);
  CHECK(r.second.find("not the leader of Thing") == 0);
  CHECK(store->multis == multis);  // nothing written
  CHECK(running->empty());         // a follower runs no instances
  auto l = ask<msg::leadership>(a, msg::leader_atom::value);
  REQUIRE(l.first);
  CHECK_FALSE(l.first->leader);
  CHECK(l.first->elected);
}

TEST_CASE_METHOD(fixture, "the leader fences its writes, and deposed, its write fails and is not retried",
                 "[orchestrator][leader]") {
  settings.elected = true;
  seed(ids(0, 4));
  auto fence = make_election_node("n_me_0000000001");
  auto a = spawn();
  self->send(a, msg::leader_atom::value, msg::leadership{true, true, fence, R"({"daemon":"me:1"})"});
  sched.run();
  CHECK(running->size() == 1);  // the leader runs its instance
  CHECK(running->at(0));
  send_event(a, model::action_kind::create, {"new1"});
  sched.run();
  CHECK(*acks == 1);
  CHECK(znodes().where("new1"));
  CHECK(store->multi_sizes.back() == 1 + 3);  // the check first, then the instance's writes
  // Deposed: the election znode is gone (session expired); another daemon leads.
  remove_node(fence);
  auto multis = store->multis;
  send_event(a, model::action_kind::create, {"new2"});
  sched.run();
  CHECK(store->multis == multis + 1);  // one attempt, no retry
  REQUIRE(errors->size() == 1);
  CHECK(errors->front().find("not the leader of Thing") == 0);
  CHECK_FALSE(znodes().where("new2"));
  CHECK(counter(a, "writes_fenced") == 1);
  CHECK(counter(a, "leader") == 0);
  CHECK_FALSE(running->at(0));  // its instance released
  send_event(a, model::action_kind::create, {"new3"});
  sched.run();
  CHECK(errors->size() == 2);
  CHECK(store->multis == multis + 1);
  // Elected again with a new znode: reads what is there, writes again.
  auto fence2 = make_election_node("n_me_0000000003");
  self->send(a, msg::leader_atom::value, msg::leadership{true, true, fence2, R"({"daemon":"me:1"})"});
  sched.run();
  send_event(a, model::action_kind::create, {"new4"});
  sched.run();
  CHECK(*acks == 2);
  CHECK(znodes().where("new4"));
  CHECK(running->at(0));
}

namespace {

// Asks `target` from an actor of its own, so the answer can arrive at any later time; every
// answer (or refusal text) lands in the returned list.
template <class T, class... Ts>
std::shared_ptr<std::vector<std::string>> ask_later(caf::actor_system& sys, const msg::orchestrator_actor& target,
                                                    Ts... request) {
  auto answers = std::make_shared<std::vector<std::string>>();
  sys.spawn([=](caf::event_based_actor* c) {
    c->request(target, caf::infinite, request...)
      .then([answers](T&) { answers->push_back("answered"); },
            [answers](caf::error& e) { answers->push_back(msg::refusal_text(e)); });
  });
  return answers;
}

}  // namespace

TEST_CASE_METHOD(fixture, "a write before the first election is decided waits, then runs as leader",
                 "[orchestrator][leader][startup]") {
  settings.elected = true;
  seed(ids(0, 4));
  inventory->ids = ids(0, 6);
  auto a = spawn();
  auto reconcile = ask_later<msg::reconcile_report>(sys, a, msg::reconcile_atom::value);
  auto orchestrate =
    ask_later<model::orchestration_status>(sys, a, msg::orchestrate_atom::value, model::orchestrate_request{});
  sched.run();
  CHECK(reconcile->empty());  // waiting, not refused
  CHECK(orchestrate->empty());
  auto node = make_election_node("n_me_0000000001");
  self->send(a, msg::leader_atom::value, msg::leadership{true, true, node, R"({"daemon":"me:1"})"});
  sched.run();
  while (inventory->answer() || store->release())
    sched.run();
  CHECK(*reconcile == std::vector<std::string>{"answered"});
  CHECK(*orchestrate == std::vector<std::string>{"answered"});
  CHECK(znodes().resources() == 6);
}

TEST_CASE_METHOD(fixture, "a write before the first election is decided waits, then a follower refuses it naming the leader",
                 "[orchestrator][leader][startup]") {
  settings.elected = true;
  seed(ids(0, 4));
  auto a = spawn();
  auto drain = ask_later<model::orchestration_status>(sys, a, msg::drain_atom::value, model::instance_id{0});
  sched.run();
  CHECK(drain->empty());
  self->send(a, msg::leader_atom::value,
             msg::leadership{false, true, "", R"({"daemon":"other:42","http":"10.0.0.2:8080"})"});
  sched.run();
  CHECK(*drain == std::vector<std::string>{"not the leader of Thing; the leader is other:42 at 10.0.0.2:8080"});
}

TEST_CASE_METHOD(fixture, "a write waits for the first election at most startup_wait, then is refused",
                 "[orchestrator][leader][startup]") {
  settings.elected = true;
  auto a = spawn();
  auto reconcile = ask_later<msg::reconcile_report>(sys, a, msg::reconcile_atom::value);
  sched.run();
  CHECK(reconcile->empty());
  sched.trigger_timeouts();
  sched.run();
  CHECK(*reconcile == std::vector<std::string>{"not the leader of Thing; no leader is elected yet"});
  // Later writes no longer wait.
  auto o = ask<model::orchestration_status>(a, msg::orchestrate_atom::value, model::orchestrate_request{});
  CHECK(o.second == "not the leader of Thing; no leader is elected yet");
}
