// Leader election and fencing (SPEC 10) against a real ZooKeeper: two daemons' worth of
// leader actors and orchestrators, each with its own ZooKeeper session, for one type.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/leader.hpp"
#include "actors/resource_orchestrator.hpp"
#include "fakes/fake_zookeeper_store.hpp"
#include "io/zookeeper_store.hpp"
#include "messages/errors.hpp"
#include "tests/fixtures/process.hpp"
#include "tests/fixtures/zookeeper_server.hpp"

using namespace iota;
using namespace std::chrono_literals;

namespace {

caf::actor_system_config& quiet(caf::actor_system_config& c) {
  c.set("logger.file-verbosity", caf::atom("quiet"));
  c.set("logger.console-verbosity", caf::atom("quiet"));
  return c;
}

struct daemon_side {
  std::shared_ptr<io::zookeeper_store> store;
  msg::orchestrator_actor orch;
  msg::leader_actor leader;
  std::shared_ptr<std::atomic<int>> leads_all = std::make_shared<std::atomic<int>>(-1);
};

daemon_side make_side(caf::actor_system& sys, const std::string& hosts, const std::string& name,
                      const std::string& token = {}) {
  daemon_side d;
  d.store = io::make_zookeeper_store(hosts, 4s);
  actors::orchestrator_settings s;
  s.resource = "Thing";
  s.options = model::resource_options{2, 100, 50};
  s.elected = true;
  auto inv = std::make_shared<test::fixed_inventory>();
  d.orch = actors::spawn_resource_orchestrator(sys, s, d.store, inv);
  actors::leader_settings ls;
  ls.resources = {"Thing"};
  ls.data = R"({"daemon":")" + name + R"(","http":")" + name + R"(:8080"})";
  ls.session_timeout = 4s;
  ls.token = token;
  auto flag = d.leads_all;
  ls.on_leads_all = [flag](bool all) { *flag = all ? 1 : 0; };
  d.leader = actors::spawn_leader(sys, ls, d.store, {{"Thing", d.orch}});
  d.store->start();
  return d;
}

msg::leadership leadership_of(caf::scoped_actor& self, const msg::orchestrator_actor& a) {
  msg::leadership out;
  self->request(a, 10s, msg::leader_atom::value)
    .receive([&](msg::leadership& l) { out = l; }, [&](caf::error&) {});
  return out;
}

std::string apply(caf::scoped_actor& self, const msg::orchestrator_actor& a, std::vector<std::string> ids) {
  std::string out = "no reply";
  self->request(a, 30s, msg::apply_atom::value, msg::resource_event{model::action_kind::create, std::move(ids)})
    .receive([&](msg::event_ack&) { out = "ok"; }, [&](caf::error& e) { out = msg::refusal_text(e); });
  return out;
}

// A ZooKeeper, and an actor system for the daemons' leader actors and orchestrators.
struct election {
  test::zookeeper_server zk;
  caf::actor_system_config cfg;
  caf::actor_system sys{quiet(cfg)};
  caf::scoped_actor self{sys};
};

// A plain client session (not a daemon's), connected.
std::shared_ptr<io::zookeeper_store> connected_store(const std::string& hosts) {
  auto store = io::make_zookeeper_store(hosts);
  store->start();
  REQUIRE(test::wait_until([&] { return store->connected(); }, 60s));
  return store;
}

}  // namespace

TEST_CASE_METHOD(election, "leader election: one leads, the other follows and takes over when the session closes, and "
          "the old leader's fenced multi fails", "[leader][zookeeper]") {
  auto a = make_side(sys, zk.hosts(), "daemon-a");
  REQUIRE(test::wait_until([&] { return *a.leads_all == 1; }, 60s));
  auto b = make_side(sys, zk.hosts(), "daemon-b");
  REQUIRE(test::wait_until([&] {
    return *b.leads_all == 0 && leadership_of(self, b.orch).leader_data.find("daemon-a") != std::string::npos;
  }, 60s));
  CHECK(*a.leads_all == 1);

  auto la = leadership_of(self, a.orch);
  CHECK(la.leader);
  CHECK(la.fence_path.rfind("/iota/orchestrator/leader/Thing/n_", 0) == 0);
  auto lb = leadership_of(self, b.orch);
  CHECK_FALSE(lb.leader);

  // The leader writes (an orchestration must exist: the first create adds instance 0).
  REQUIRE(test::wait_until([&] { return apply(self, a.orch, {"t1", "t2"}) == "ok"; }, 60s));
  CHECK(apply(self, b.orch, {"t3"}) == "not the leader of Thing; the leader is daemon-a at daemon-a:8080");
  // The follower reads what the leader wrote.
  std::string where;
  self->request(b.orch, 30s, msg::lookup_atom::value, std::string{"t2"})
    .receive([&](model::instance_id id) { where = std::to_string(id); }, [&](caf::error& e) { where = msg::refusal_text(e); });
  CHECK(where == "0");

  // The leader's session closes: the follower leads well within the session timeout.
  auto old_fence = la.fence_path;
  auto t0 = std::chrono::steady_clock::now();
  a.store->stop();
  REQUIRE(test::wait_until([&] { return *b.leads_all == 1; }, 30s));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < 4s + 2s);
  REQUIRE(test::wait_until([&] { return apply(self, b.orch, {"t3"}) == "ok"; }, 60s));
  auto lb2 = leadership_of(self, b.orch);
  CHECK(lb2.leader);
  CHECK(lb2.fence_path != old_fence);

  // A multi fenced with the old leader's znode fails whole: nothing of it is written.
  auto c = connected_store(zk.hosts());
  std::promise<std::pair<io::zk_rc, std::vector<io::zk_rc>>> p;
  auto f = p.get_future();
  std::vector<model::zk_op> ops{{model::zk_op::kind::check, old_fence, "", -1},
                                {model::zk_op::kind::create, "/iota/orchestration/Thing/77", "{}", -1}};
  c->multi(ops, [&p](io::zk_rc rc, std::vector<io::zk_rc> r) { p.set_value({rc, r}); });
  REQUIRE(f.wait_for(30s) == std::future_status::ready);
  auto [rc, results] = f.get();
  CHECK(rc == io::zk_no_node);
  REQUIRE_FALSE(results.empty());
  CHECK(results.front() == io::zk_no_node);
  std::promise<io::zk_rc> g;
  auto gf = g.get_future();
  c->get("/iota/orchestration/Thing/77", [&g](io::zk_rc r, std::string, std::int32_t) { g.set_value(r); });
  REQUIRE(gf.wait_for(30s) == std::future_status::ready);
  CHECK(gf.get() == io::zk_no_node);
  // The same check with the new leader's znode passes.
  std::promise<io::zk_rc> h;
  auto hf = h.get_future();
  c->multi({{model::zk_op::kind::check, lb2.fence_path, "", -1}}, [&h](io::zk_rc r, std::vector<io::zk_rc>) { h.set_value(r); });
  REQUIRE(hf.wait_for(30s) == std::future_status::ready);
  CHECK(hf.get() == io::zk_ok);

  for (auto x : {caf::actor_cast<caf::actor>(a.orch), caf::actor_cast<caf::actor>(a.leader),
                 caf::actor_cast<caf::actor>(b.orch), caf::actor_cast<caf::actor>(b.leader)})
    self->send_exit(x, caf::exit_reason::user_shutdown);
  b.store->stop();
  c->stop();
}

TEST_CASE_METHOD(election, "leader election: three candidates, each watches its predecessor, and the leader's znode "
          "removed by hand re-elects", "[leader][zookeeper]") {
  auto a = make_side(sys, zk.hosts(), "a");
  REQUIRE(test::wait_until([&] { return *a.leads_all == 1; }, 60s));
  auto b = make_side(sys, zk.hosts(), "b");
  REQUIRE(test::wait_until([&] { return *b.leads_all == 0; }, 60s));
  auto c = make_side(sys, zk.hosts(), "c");
  REQUIRE(test::wait_until([&] { return *c.leads_all == 0; }, 60s));
  // The middle one goes: nobody's leadership changes, c now watches a.
  b.store->stop();
  std::this_thread::yield();
  CHECK(*a.leads_all == 1);
  // The leader's znode is removed by hand (an operator): a re-joins at the tail, c leads.
  auto fence = leadership_of(self, a.orch).fence_path;
  auto r = connected_store(zk.hosts());
  std::promise<io::zk_rc> p;
  auto f = p.get_future();
  r->remove(fence, -1, [&p](io::zk_rc rc) { p.set_value(rc); });
  REQUIRE(f.wait_for(30s) == std::future_status::ready);
  REQUIRE(f.get() == io::zk_ok);
  REQUIRE(test::wait_until([&] { return *c.leads_all == 1 && *a.leads_all == 0; }, 30s));
  auto la = leadership_of(self, a.orch);
  REQUIRE(test::wait_until([&] { return leadership_of(self, a.orch).leader_data.find("\"c\"") != std::string::npos; }, 30s));
  CHECK_FALSE(la.leader);
  for (auto& s : {&a, &b, &c})
    for (auto x : {caf::actor_cast<caf::actor>(s->orch), caf::actor_cast<caf::actor>(s->leader)})
      self->send_exit(x, caf::exit_reason::user_shutdown);
  a.store->stop();
  c.store->stop();
  r->stop();
}

TEST_CASE_METHOD(election, "a daemon that finds its own earlier election znode (from another session) removes it by "
          "name and leads at once, instead of queueing behind itself", "[leader][zookeeper]") {
  // An earlier session of this daemon left its znode; that session is still open here, so the
  // znode would never expire by itself.
  auto earlier = connected_store(zk.hosts());
  std::promise<io::zk_rc> made;
  auto made_f = made.get_future();
  earlier->ensure_path("/iota/orchestrator/leader/Thing", [&](io::zk_rc) {
    earlier->create("/iota/orchestrator/leader/Thing/n_daemon-x-7_", "{}", io::ephemeral | io::sequential,
                    [&](io::zk_rc rc, std::string) { made.set_value(rc); });
  });
  REQUIRE(made_f.wait_for(30s) == std::future_status::ready);
  REQUIRE(made_f.get() == io::zk_ok);
  auto names = [&] {
    std::promise<std::vector<std::string>> p;
    auto f = p.get_future();
    earlier->children("/iota/orchestrator/leader/Thing",
                      [&p](io::zk_rc, std::vector<std::string> n) { p.set_value(std::move(n)); });
    REQUIRE(f.wait_for(30s) == std::future_status::ready);
    return f.get();
  };
  REQUIRE(names().size() == 1);

  auto a = make_side(sys, zk.hosts(), "daemon-x", "daemon-x-7");
  REQUIRE(test::wait_until([&] { return *a.leads_all == 1; }, 30s));
  auto left = names();
  REQUIRE(left.size() == 1);  // only its new znode: the earlier one was removed by name
  CHECK(leadership_of(self, a.orch).fence_path == "/iota/orchestrator/leader/Thing/" + left[0]);
  for (auto x : {caf::actor_cast<caf::actor>(a.orch), caf::actor_cast<caf::actor>(a.leader)})
    self->send_exit(x, caf::exit_reason::user_shutdown);
  a.store->stop();
  earlier->stop();
}
