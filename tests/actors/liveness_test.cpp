// Deterministic tests of the liveness actors with a recording driver: ensure-on-start,
// restarts by cause, 409 retries, crash-loop backoff, grace periods, and the ticker's
// channel-down and maintenance decisions.
#include <catch2/catch.hpp>

#include "actors/decision_log.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/heartbeat_ticker.hpp"
#include "actors/instance_fleet.hpp"
#include "actors/instance_supervisor.hpp"
#include "fakes/deterministic_system.hpp"
#include "fakes/recording_driver.hpp"
#include "messages/orchestrator.hpp"

using namespace iota;
using namespace std::chrono_literals;

namespace {

struct fixture : test::deterministic_system {
  std::shared_ptr<test::recording_driver> driver = std::make_shared<test::recording_driver>();
  std::vector<caf::actor> spawned;

  fixture()
  {}
  ~fixture() {
    for (auto& a : spawned)
      self->send_exit(a, caf::exit_reason::user_shutdown);
    sched.run();
  }

  actors::supervisor_settings quick() {
    actors::supervisor_settings s;
    s.grace_period = 0ms;
    s.first_backoff = 10s;
    s.max_backoff = 80s;
    s.retry_delay = 2s;
    return s;
  }

  msg::supervisor_actor supervisor(actors::supervisor_settings s, int id = 3) {
    auto a = actors::spawn_instance_supervisor(sys, io::instance_ref{"Thing", "iota-dac", id}, s, driver);
    spawned.push_back(caf::actor_cast<caf::actor>(a));
    sched.run();
    return a;
  }

  msg::instance_health health(const msg::supervisor_actor& a) {
    auto rh = self->request(a, caf::infinite, msg::status_atom::value);
    sched.run();
    msg::instance_health out;
    rh.receive([&](msg::instance_health& h) { out = h; }, [&](caf::error& e) { FAIL(sys.render(e)); });
    return out;
  }

  msg::check_result check(const msg::supervisor_actor& a) {
    auto rh = self->request(a, caf::infinite, msg::check_atom::value);
    sched.run();
    msg::check_result out;
    rh.receive([&](msg::check_result& r) { out = r; }, [&](caf::error& e) { FAIL(sys.render(e)); });
    return out;
  }

  // Fires the timers due (the test clock jumps to the next one).
  void fire_timers() {
    sched.trigger_timeouts();
    sched.run();
  }
};

}  // namespace

TEST_CASE_METHOD(fixture, "a supervisor creates a missing pod and leaves a running one alone",
                 "[liveness][supervisor]") {
  auto a = supervisor(quick());
  CHECK(driver->calls == std::vector<std::string>{"get iota-dac-3", "create iota-dac-3"});
  auto h = health(a);
  CHECK(h.phase == "Pending");
  CHECK(h.restarts == 0);  // creating a new instance is no restart
  // Later, the pod disappears: that is a restart for cause "missing".
  driver->phases.erase(3);
  self->send(a, msg::phase_atom::value, io::pod_phase::missing, std::string{});
  sched.run();
  h = health(a);
  CHECK(h.restarts_by_cause[static_cast<int>(msg::restart_cause::missing)] == 1);
  CHECK(driver->calls.back() == "create iota-dac-3");

  driver->calls.clear();
  driver->phases[4] = io::pod_phase::running;
  supervisor(quick(), 4);
  CHECK(driver->calls == std::vector<std::string>{"get iota-dac-4"});
}

TEST_CASE_METHOD(fixture, "dead pods are deleted and recreated - 409 is retried, never given up",
                 "[liveness][supervisor]") {
  driver->phases[3] = io::pod_phase::running;
  auto a = supervisor(quick());
  driver->calls.clear();
  driver->create_answers = {io::driver_result::code::conflict, io::driver_result::code::conflict};
  self->send(a, msg::phase_atom::value, io::pod_phase::failed, std::string{"exit code 1"});
  sched.run();
  CHECK(driver->calls == std::vector<std::string>{
                           "event iota-dac-3 Restarted: iota-orchestrator restarts instance [3] (cause phase): "
                           "pod iota-dac-3 is Failed (exit code 1)",
                           "remove iota-dac-3", "create iota-dac-3"});
  fire_timers();
  fire_timers();
  CHECK(driver->count("create") == 3);
  auto h = health(a);
  CHECK(h.phase == "Pending");
  CHECK(h.restarts == 1);
  CHECK(h.restarts_by_cause[static_cast<int>(msg::restart_cause::phase)] == 1);
}

TEST_CASE_METHOD(fixture, "heartbeat checks: silent, reset by asking, grace first", "[liveness][supervisor]") {
  driver->phases[3] = io::pod_phase::running;
  auto s = quick();
  s.grace_period = 1h;
  auto a = supervisor(s);
  auto c = check(a);
  CHECK(c.silent);
  CHECK_FALSE(c.eligible);  // still in its grace period
  self->send(a, msg::heartbeat_atom::value, std::int64_t{1234});
  sched.run();
  CHECK_FALSE(check(a).silent);
  CHECK(check(a).silent);  // the flag was reset by the previous check
  CHECK(health(a).last_heartbeat_ms == 1234);
}

TEST_CASE_METHOD(fixture, "a crash loop backs off exponentially up to the maximum", "[liveness][supervisor]") {
  driver->phases[3] = io::pod_phase::running;
  auto settings = quick();
  auto history = std::make_shared<actors::decision_log>();
  settings.history = history;
  auto a = supervisor(settings);
  auto restart = [&] {
    driver->calls.clear();
    self->send(a, msg::restart_atom::value, msg::restart_cause::heartbeat);
    sched.run();
  };
  restart();
  CHECK(driver->count("remove") == 1);  // the first restart: at once
  // SPEC 14: each restart is told to the platform (a Kubernetes Event on the pod).
  CHECK(driver->count("event iota-dac-3 Restarted: iota-orchestrator restarts instance [3] (cause heartbeat)") == 1);
  std::vector<std::size_t> timers_needed;
  for (int i = 0; i < 5; ++i) {
    restart();
    CHECK(driver->count("remove") == 0);  // waits for its backoff
    fire_timers();
    CHECK(driver->count("remove") == 1);
  }
  CHECK(health(a).restarts == 6);
  // SPEC 14: six restarts and five backoffs, each with its cause, on instance 3.
  auto of_kind = [&](const std::string& kind) {
    model::decision_filter f;
    f.kind = kind;
    return history->query(f);
  };
  auto r = of_kind("restart");
  REQUIRE(r.size() == 6);
  CHECK(r[0].resource == "Thing");
  CHECK(r[0].instance == "3");
  CHECK(r[0].cause == "heartbeat");
  auto b = of_kind("backoff");
  REQUIRE(b.size() == 5);
  CHECK(b[0].detail == "restart 6 in a row: waiting 80000 ms before it");
  CHECK(b[4].detail == "restart 2 in a row: waiting 10000 ms before it");
}

TEST_CASE_METHOD(fixture, "the fleet follows the orchestrator and routes by instance", "[liveness][fleet]") {
  actors::fleet_settings fs;
  fs.resource = "Thing";
  fs.instance_name = "iota-dac";
  fs.supervisor = quick();
  auto fleet = actors::spawn_instance_fleet(sys, fs, driver);
  spawned.push_back(caf::actor_cast<caf::actor>(fleet));
  for (int id : {0, 1, 2})
    self->send(fleet, msg::instance_atom::value, std::string{"Thing"},
               msg::instance_change::added, id);
  sched.run();
  CHECK(driver->count("create") == 3);
  self->send(fleet, msg::heartbeat_atom::value, 1, std::int64_t{99});
  self->send(fleet, msg::heartbeat_atom::value, 7, std::int64_t{99});  // unknown: counted, ignored
  sched.run();
  auto rh = self->request(fleet, caf::infinite, msg::check_atom::value);
  sched.run();
  std::vector<msg::check_result> checks;
  rh.receive([&](std::vector<msg::check_result>& r) { checks = r; }, [&](caf::error& e) { FAIL(sys.render(e)); });
  REQUIRE(checks.size() == 3);
  for (auto& c : checks)
    CHECK(c.silent == (c.id != 1));
  self->send(fleet, msg::instance_atom::value, std::string{"Thing"},
             msg::instance_change::removed, 2);
  sched.run();
  CHECK(driver->calls.back() == "remove iota-dac-2");
}

TEST_CASE("the ticker restarts the silent, except when the channel is down or too many are",
          "[liveness][ticker]") {
  auto checks = [](int total, int silent) {
    std::vector<msg::check_result> v;
    for (int i = 0; i < total; ++i)
      v.push_back(msg::check_result{i, i < silent, true});
    return v;
  };
  auto d = actors::decide_tick(checks(10, 2), {true, 50}, false, 0.5);
  CHECK(d.restart == std::vector<int>{0, 1});
  CHECK_FALSE(d.maintenance);
  CHECK_FALSE(d.channel_down);
  // The consumer reports errors: nobody is restarted.
  d = actors::decide_tick(checks(10, 2), {false, 50}, false, 0.5);
  CHECK(d.channel_down);
  CHECK(d.restart.empty());
  // Not one heartbeat from anybody: the channel, not the fleet.
  d = actors::decide_tick(checks(10, 10), {true, 0}, false, 0.5);
  CHECK(d.channel_down);
  CHECK(d.restart.empty());
  // 6 of 10 silent: maintenance, nobody restarted.
  d = actors::decide_tick(checks(10, 6), {true, 4}, false, 0.5);
  CHECK(d.maintenance);
  CHECK(d.restart.empty());
  // Hysteresis: still 3 of 10 silent (above 0.25): stay in maintenance.
  d = actors::decide_tick(checks(10, 3), {true, 7}, true, 0.5);
  CHECK(d.maintenance);
  CHECK(d.restart.empty());
  // 2 of 10 (below half of 0.5): leave it and restart those two.
  d = actors::decide_tick(checks(10, 2), {true, 8}, true, 0.5);
  CHECK_FALSE(d.maintenance);
  CHECK(d.restart == std::vector<int>{0, 1});
  // Instances still in their grace period are never restarted.
  auto v = checks(4, 4);
  v[0].eligible = false;
  d = actors::decide_tick(v, {true, 1}, false, 1.0);
  CHECK(d.restart == std::vector<int>{1, 2, 3});
}
