// Deterministic tests of the pod monitor with a recording driver and recording fleets: every
// period each fleet is asked to check its pods, and a phase the driver reports goes to the
// fleet of that resource (and nowhere for a resource it does not know).
#include <catch2/catch.hpp>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/pod_monitor.hpp"
#include "fakes/deterministic_system.hpp"
#include "fakes/recording_driver.hpp"

using namespace iota;
using namespace std::chrono_literals;

namespace {

// A fleet that records what the monitor sends it.
struct fleet_log {
  int pod_checks = 0;
  std::vector<std::string> phases;  // "3 Failed exit code 1"
};

msg::fleet_actor::behavior_type recording_fleet(std::shared_ptr<fleet_log> log) {
  return {
    [](msg::instance_atom, const std::string&, msg::instance_change, int) {},
    [](msg::heartbeat_atom, int, std::int64_t) {},
    [log](msg::phase_atom, int id, model::pod_phase p, const std::string& detail) {
      log->phases.push_back(std::to_string(id) + " " + std::string{model::to_string(p)} + " " + detail);
    },
    [log](msg::pod_check_atom) { ++log->pod_checks; },
    [](msg::check_atom) { return std::vector<msg::check_result>{}; },
    [](msg::restart_atom, int, msg::restart_cause) {},
    [](msg::maintenance_atom, bool) {},
    [](msg::status_atom) { return std::vector<msg::instance_health>{}; },
    [](msg::stats_atom) { return msg::actor_stats{}; },
  };
}

struct fixture : test::deterministic_system {
  std::shared_ptr<test::recording_driver> driver = std::make_shared<test::recording_driver>();
  std::shared_ptr<fleet_log> things = std::make_shared<fleet_log>();
  std::shared_ptr<fleet_log> rules = std::make_shared<fleet_log>();
  std::vector<caf::actor> spawned;
  msg::pod_monitor_actor monitor;

  fixture() {
    std::map<std::string, msg::fleet_actor> fleets{{"Thing", sys.spawn(recording_fleet, things)},
                                                   {"Rule", sys.spawn(recording_fleet, rules)}};
    for (auto& [_, f] : fleets)
      spawned.push_back(caf::actor_cast<caf::actor>(f));
    monitor = actors::spawn_pod_monitor(sys, 60s, fleets, driver);
    spawned.push_back(caf::actor_cast<caf::actor>(monitor));
    sched.run();
  }
  ~fixture() {
    for (auto& a : spawned)
      self->send_exit(a, caf::exit_reason::user_shutdown);
    sched.run();
  }
};

}  // namespace

TEST_CASE_METHOD(fixture, "pod_monitor: every period each fleet is asked to check its pods", "[pod_monitor]") {
  CHECK(things->pod_checks == 0);  // nothing before the first period ends
  CHECK(rules->pod_checks == 0);
  for (int period = 1; period <= 3; ++period) {
    CHECK(sched.trigger_timeouts() == 1);  // exactly one timer: the next period
    sched.run();
    CHECK(things->pod_checks == period);
    CHECK(rules->pod_checks == period);
  }
  CHECK(stats_counter(monitor, "pod_checks") == 3);
}

TEST_CASE_METHOD(fixture, "pod_monitor: a phase the driver reports goes to that resource's fleet only", "[pod_monitor]") {
  REQUIRE(driver->watcher);  // the monitor registered itself as the driver's watcher
  driver->watcher(io::pod_status{{"Thing", "iota-dac", 3}, io::pod_phase::failed, "exit code 1"});
  driver->watcher(io::pod_status{{"Rule", "iota-rules-engine", 0}, io::pod_phase::running, ""});
  driver->watcher(io::pod_status{{"Device", "iota-x", 1}, io::pod_phase::missing, ""});  // unknown resource
  sched.run();
  CHECK(things->phases == std::vector<std::string>{"3 Failed exit code 1"});
  CHECK(rules->phases == std::vector<std::string>{"0 Running "});
  CHECK(stats_counter(monitor, "phase_events") == 2);
  CHECK(stats_counter(monitor, "phase_events_unknown_resource") == 1);
}
