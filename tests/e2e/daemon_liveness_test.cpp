// Liveness end to end: the daemon with the local-process driver running real reference
// workers, real ZooKeeper and mosquitto, the Kafka stand-in; short periods.
#include <catch2/catch.hpp>

#include <csignal>
#include <regex>

#include <nlohmann/json.hpp>

#include "tests/fixtures/e2e_support.hpp"

using namespace iota;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// The PID of the worker process serving (resource, id), found through /proc: a child of
// `parent` (this test's daemon), so workers of tests running in parallel are never taken.
pid_t find_worker_pid(const std::string& resource, int id, pid_t parent) {
  pid_t found = -1;
  for (const auto& w : test::iota_instance_processes())
    if (w.parent == parent && w.has_env("IOTA_INSTANCE_ID=" + std::to_string(id)) &&
        w.has_env("IOTA_RESOURCE=" + resource))
      found = w.pid;
  return found;
}

struct liveness_fixture {
  pid_t worker_pid(const std::string& resource, int id) {
    return find_worker_pid(resource, id, daemon->pid());
  }
  test::zookeeper_server zk;
  test::mosquitto_server broker;
  test::kafka_mock kafka;
  test::temp_dir templates{"iota-templates"};
  std::unique_ptr<test::daemon_process> daemon;
  int port = 0;

  liveness_fixture() {
    // Things heart-beat every second; Rules crash a second after they start.
    test::write_worker_template(templates.path(), "iota-dac", "Thing", R"(, "--heartbeat", "1")");
    test::write_worker_template(templates.path(), "iota-rules-engine", "Rule",
                                R"(, "--exit-after", "1", "3")");
    test::daemon_options o;
    o.zookeeper = zk.hosts();
    o.mqtt_url = broker.url();
    o.templates_dir = templates.path();
    o.init_instances = 3;
    for (int i = 0; i < 30; ++i)
      o.thing_inventory.push_back("thing-" + std::to_string(i));
    o.rule_inventory = {"rule-0"};
    o.extra_yaml = test::local_workers_yaml(kafka);
    // A replacement that dies within max(maxBackoff, 2 x gracePeriod) counts as a crash loop.
    // With 4 s, a Rule worker started late on a loaded machine (it exits a second after it
    // starts) once outlived the window and reset the backoff; 8 s leaves room, and the
    // sequence the test expects (0, 1, 2, 4 s) stays under the cap.
    auto cap = o.extra_yaml.find("maxBackoff: 4s");
    REQUIRE(cap != std::string::npos);
    o.extra_yaml.replace(cap, std::string{"maxBackoff: 4s"}.size(), "maxBackoff: 8s");
    daemon = std::make_unique<test::daemon_process>(o);
    daemon->start();
    port = daemon->http_port();
    REQUIRE(test::wait_until([&] { return get("/readyz").status == 200; }, 120s));
  }

  test::http_result get(const std::string& path) { return test::http_request(port, "GET", path); }

  json orchestration(const std::string& r) {
    auto res = get("/v1/api/orchestrations/" + r);
    REQUIRE(res.status == 200);
    return json::parse(res.body);
  }

  std::int64_t counter(const std::string& actor, const std::string& name) {
    auto res = get("/v1/api/stats");
    REQUIRE(res.status == 200);
    auto stats = json::parse(res.body);  // kept alive: the loop walks inside it
    for (auto& a : stats["actors"])
      if (a["actor"] == actor)
        return a["counters"].value(name, std::int64_t{0});
    return 0;
  }

  std::int64_t ticks() {  // -1 while the daemon does not answer (the caller waits on)
    auto res = get("/v1/api/stats");
    auto stats = json::parse(res.body, nullptr, false);
    if (res.status != 200 || stats.is_discarded())
      return -1;
    for (auto& a : stats["actors"])
      if (a["actor"] == "heartbeat_ticker/Thing" && a["handlers"].contains("tick"))
        return a["handlers"]["tick"]["handled"].get<std::int64_t>();
    return 0;
  }

  std::vector<int> heartbeat_restarts() {
    std::vector<int> out;
    auto o = orchestration("Thing");
    for (auto& i : o["instances"])
      out.push_back(i["pod"].value("restartsByCause", json::object()).value("heartbeat", 0));
    return out;
  }
};

}  // namespace

TEST_CASE_METHOD(liveness_fixture, "heartbeats, silent workers, crash loops and a dead channel",
                 "[e2e][liveness]") {
  auto orchestrate = [&](const std::string& r) {
    return test::http_request(port, "POST", "/v1/api/orchestrations/" + r + "/orchestrate");
  };
  REQUIRE(orchestrate("Thing").status == 200);
  // Every worker runs and heart-beats.
  REQUIRE(test::wait_until([&] { return test::instances_running_with_heartbeats(port, "Thing", 3); }, 120s));

  SECTION("heart-beating workers are never restarted; one silent worker is, alone") {
    std::int64_t t0 = -1;
    REQUIRE(test::wait_until([&] { return (t0 = ticks()) >= 0; }, 60s));
    REQUIRE(test::wait_until([&] { return ticks() >= t0 + 4; }, 120s));  // four periods
    CHECK(heartbeat_restarts() == std::vector<int>{0, 0, 0});
    CHECK(counter("instance_fleet/Thing", "restarts_heartbeat") == 0);

    // The worker of instance 1 freezes: it stops heart-beating but its process lives on.
    auto pid = worker_pid("Thing", 1);
    REQUIRE(pid > 0);
    REQUIRE(::kill(pid, SIGSTOP) == 0);
    REQUIRE(test::wait_until([&] { return heartbeat_restarts()[1] == 1; }, 120s));
    CHECK(heartbeat_restarts()[0] == 0);
    CHECK(heartbeat_restarts()[2] == 0);
    CHECK(daemon->count_in_log("Not receive heartBeat rightly, delete instance [1]") == 1);
    // SPEC 14: the restart is in the decision history with its cause.
    auto restarts = json::parse(get("/v1/api/events?resource=Thing&kind=restart").body)["events"];
    REQUIRE(restarts.size() == 1);
    CHECK(restarts[0]["instance"] == "1");
    CHECK(restarts[0]["cause"] == "heartbeat");
    CHECK(restarts[0]["detail"] == "no heartbeat within the heartbeat period");
    // Its replacement runs and heart-beats again.
    REQUIRE(test::wait_until([&] {
      auto i = orchestration("Thing")["instances"][1];
      return i["pod"]["phase"] == "Running" && worker_pid("Thing", 1) > 0 && worker_pid("Thing", 1) != pid;
    }, 120s));
    ::kill(pid, SIGKILL);  // in case it outlived the driver's kill
  }

  SECTION("a worker sees its resources change after a create and a delete notify") {
    auto log = daemon->dir() + "/instances/iota-dac-2.log";
    // 30 Things on 3 instances of 11: a create goes to the highest instance with room (2).
    test::mqtt_publish(broker.url(), "cm/notify", {R"({"o":"c","t":"Thing","k":{"id":"fresh"}})"});
    REQUIRE(test::wait_until([&] { return test::read_file(log).find("serving 11 resources") != std::string::npos; }, 60s));
    test::mqtt_publish(broker.url(), "cm/notify", {R"({"o":"bd","t":"Thing","where":{"id":["fresh","thing-29"]}})"});
    REQUIRE(test::wait_until([&] { return test::read_file(log).find("serving 9 resources") != std::string::npos; }, 60s));
  }

  SECTION("a worker that keeps failing is restarted with growing backoff") {
    REQUIRE(orchestrate("Rule").status == 200);
    std::regex line{R"(supervisor\[Rule/0\] restart of instance \[0\] \(cause phase, restart (\d+)(, crash-loop backoff (\d+) ms)?\))"};
    std::map<int, long> backoff;
    REQUIRE(test::wait_until([&] {
      auto text = daemon->log();
      for (std::sregex_iterator it{text.begin(), text.end(), line}, end; it != end; ++it)
        backoff[std::stoi((*it)[1])] = (*it)[3].matched ? std::stol((*it)[3]) : 0;
      return backoff.count(4) == 1;
    }, 120s));
    CHECK(backoff[1] == 0);
    CHECK(backoff[2] == 1000);
    CHECK(backoff[3] == 2000);
    CHECK(backoff[4] == 4000);
  }

  SECTION("a worker killed with -9 is recreated within seconds; a stopped daemon leaves no worker") {
    auto pid = worker_pid("Thing", 0);
    REQUIRE(pid > 0);
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(::kill(pid, SIGKILL) == 0);
    // The driver reports the exit as it happens (no 60 s poll): a new worker appears.
    REQUIRE(test::wait_until([&] {
      auto now = worker_pid("Thing", 0);
      return now > 0 && now != pid;
    }, 60s));
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    INFO("recreated after " << took.count() << " ms");
    CHECK(took < 10s);  // about one second here; generous for a loaded CI machine
    CHECK(orchestration("Thing")["instances"][0]["pod"]["restartsByCause"]["phase"] == 1);
    std::vector<pid_t> workers;
    for (int id = 0; id < 3; ++id)
      workers.push_back(worker_pid("Thing", id));
    for (auto w : workers)
      REQUIRE(w > 0);
    daemon->stop();
    for (auto w : workers)
      CHECK(::kill(w, 0) != 0);  // gone, not orphaned
  }

  SECTION("no heartbeat at all because Kafka is down: nobody is restarted") {
    kafka.stop();
    REQUIRE(test::wait_until([&] { return counter("heartbeat_ticker/Thing", "channel_down_periods") >= 3; }, 120s));
    CHECK(heartbeat_restarts() == std::vector<int>{0, 0, 0});
    CHECK(daemon->count_in_log("heartbeat channel down") >= 3);
  }
}
