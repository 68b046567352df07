// Two daemons against one ZooKeeper and one mosquitto (SPEC 10): exactly one leads; the
// follower refuses writes naming the leader and answers reads; workers run only under the
// leader; kill -9 of the leader hands over within the session timeout plus a few seconds,
// and notifies published meanwhile are all applied.
#include <catch2/catch.hpp>

#include <future>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "io/zookeeper_store.hpp"
#include "model/orchestration.hpp"
#include "model/zk_layout.hpp"
#include "tests/fixtures/e2e_support.hpp"

using namespace iota;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1))
    ++n;
  return n;
}

// iota-instance processes whose parent is `parent`.
int workers_of(pid_t parent) {
  int n = 0;
  for (const auto& w : test::iota_instance_processes())
    if (w.parent == parent && !w.zombie)
      ++n;
  return n;
}

std::string create(const std::string& id) {
  return R"({"o":"c","t":"Thing","k":{"id":")" + id + R"("},"instance":{"id":")" + id + R"("}})";
}

// One daemon: the fixture writes its config; it is started here so that a follower (which
// never connects to the broker) counts as started once its HTTP API is ready.
struct ha_daemon {
  std::unique_ptr<test::daemon_process> config;
  std::unique_ptr<test::child_process> process;
  std::string log_file;

  explicit ha_daemon(test::daemon_options o) : config(std::make_unique<test::daemon_process>(std::move(o))) {
    log_file = config->dir() + "/ha.log";
  }
  void start() {
    process = std::make_unique<test::child_process>(
      std::vector<std::string>{IOTA_BIN_DIR "/iota-orchestrator", "--config", config->config_file()},
      std::vector<std::pair<std::string, std::string>>{}, log_file, config->dir());
    REQUIRE(test::wait_until([&] { return http("GET", "/readyz").status == 200 || !process->running(); }, 120s));
    REQUIRE(process->running());
  }
  void kill9() {
    ::kill(process->pid(), SIGKILL);
    process->stop();
  }
  pid_t pid() const { return process->pid(); }
  int port() const { return config->http_port(); }
  std::string log() const { return test::read_file(log_file); }
  test::http_result http(const std::string& method, const std::string& path, const std::string& body = {}) {
    return test::http_request(port(), method, path, body, {{"Content-Type", "application/json"}}, 60s);
  }
  json leader() {
    auto r = http("GET", "/v1/api/orchestrations/Thing");
    if (r.status != 200)
      return json::object();
    auto j = json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("leader") ? j["leader"] : json::object();
  }
  bool leads() { return leader().value("self", false); }
  std::int64_t counter(const std::string& actor, const std::string& name) {
    auto res = http("GET", "/v1/api/stats");
    if (res.status != 200)
      return -1;
    auto stats = json::parse(res.body);  // kept alive: the loop walks inside it
    for (auto& a : stats["actors"])
      if (a["actor"] == actor)
        return a["counters"].value(name, std::int64_t{0});
    return 0;
  }
};

}  // namespace

TEST_CASE("two daemons: one leads, the follower refuses writes and reads, and kill -9 of the leader "
          "fails over without losing notifies", "[e2e][ha]") {
  test::zookeeper_server zk;
  test::mosquitto_server broker;
  test::daemon_options o;
  o.zookeeper = zk.hosts();
  o.mqtt_url = broker.url();
  o.with_rule = false;
  o.init_instances = 2;
  for (int i = 0; i < 100; ++i)
    o.thing_inventory.push_back("inv-" + std::to_string(i));
  o.extra_yaml = test::local_driver_yaml;
  ha_daemon first{o};
  ha_daemon second{o};
  first.start();
  REQUIRE(test::wait_until([&] { return count(first.log(), "broker connected") > 0; }, 60s));
  second.start();
  REQUIRE(test::wait_until([&] { return second.leader().contains("self"); }, 60s));
  CHECK(first.leads());
  CHECK_FALSE(second.leads());
  CHECK(second.leader().value("http", "") == "127.0.0.1:" + std::to_string(first.port()));

  // Writes: the leader orchestrates; the follower refuses, naming the leader.
  auto orch = first.http("POST", "/v1/api/orchestrations/Thing/orchestrate", "{}");
  REQUIRE(orch.status == 200);
  auto refused = second.http("POST", "/v1/api/orchestrations/Thing/orchestrate", "{}");
  CHECK(refused.status == 503);
  auto err = json::parse(refused.body, nullptr, false).value("error", "");
  CHECK(err.find("not the leader of Thing; the leader is ") == 0);
  CHECK(err.find(":" + std::to_string(first.pid()) + " at 127.0.0.1:" + std::to_string(first.port())) !=
        std::string::npos);
  CHECK(second.http("POST", "/v1/api/orchestrations/Thing/reconcile").status == 503);
  CHECK(second.http("POST", "/v1/api/orchestrations/Thing/instances/0/drain").status == 503);

  // Reads work on both.
  auto s1 = json::parse(first.http("GET", "/v1/api/orchestrations/Thing").body);
  auto s2 = json::parse(second.http("GET", "/v1/api/orchestrations/Thing").body);
  CHECK(s1["resources"] == 100);
  CHECK(s2["resources"] == 100);
  CHECK(s2["instances"].size() == 2);
  auto l1 = first.http("GET", "/v1/api/orchestrations/Thing/inv-42/instances");
  auto l2 = second.http("GET", "/v1/api/orchestrations/Thing/inv-42/instances");
  REQUIRE(l1.status == 200);
  CHECK(l2.status == 200);
  // The same placement; the history is the leader's own (it decided), the follower's is empty.
  CHECK(json::parse(l1.body)["runIn"] == json::parse(l2.body)["runIn"]);
  CHECK(json::parse(l1.body)["history"].size() == 1);
  CHECK(json::parse(l2.body)["history"].empty());
  auto rec = first.http("POST", "/v1/api/orchestrations/Thing/reconcile");
  REQUIRE(rec.status == 200);
  CHECK(json::parse(rec.body)["created"] == 0);

  // Workers run only under the leader.
  REQUIRE(test::wait_until([&] { return workers_of(first.pid()) == 2; }, 60s));
  CHECK(workers_of(second.pid()) == 0);

  // kill -9 of the leader; notifies published during the failover are all applied.
  // (The platform's database has them too: the new leader's reconcile must keep them.)
  std::vector<std::string> during;
  {
    std::ofstream inv{second.config->dir() + "/Thing.txt", std::ios::app};
    for (int i = 0; i < 500; ++i) {
      during.push_back(create("ha-" + std::to_string(i)));
      inv << "ha-" << i << "\n";
    }
  }
  auto first_pid = first.pid();
  auto t0 = std::chrono::steady_clock::now();
  first.kill9();
  test::mqtt_publish(broker.url(), "cm/notify", during);
  REQUIRE(test::wait_until([&] { return second.leads(); }, 60s));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < 10s + 8s);  // the session timeout plus a few seconds
  bool all = test::wait_until([&] {
    auto r = second.http("GET", "/v1/api/orchestrations/Thing");
    return r.status == 200 && json::parse(r.body)["resources"] == 600;
  }, 120s);
  if (!all)
    FAIL(second.log());
  auto reader = io::make_zookeeper_store(zk.hosts());
  reader->start();
  REQUIRE(test::wait_until([&] { return reader->connected(); }, 60s));
  std::promise<model::fetched_instances> p;
  auto f = p.get_future();
  reader->fetch_instances(model::resource_path("Thing"), [&p](model::fetched_instances r) { p.set_value(std::move(r)); });
  REQUIRE(f.wait_for(60s) == std::future_status::ready);
  auto fetched = f.get();
  std::vector<std::string> problems;
  auto state = model::orchestration::from_instances(std::move(fetched.instances), 5000, &problems);
  CHECK(problems.empty());
  for (int i = 0; i < 500; ++i)
    REQUIRE(state.where("ha-" + std::to_string(i)));
  CHECK(state.resources() == 600);
  reader->stop();
  // Delivered by the broker to the new leader (the session's queue), not only reconciled.
  REQUIRE(test::wait_until([&] { return second.counter("mqtt_bridge", "notifies_received") >= 500; }, 60s));
  CHECK(second.counter("mqtt_bridge", "notifies_durable") >= 500);

  // The new leader runs the workers; the old one's are gone with it.
  // (The 500 creates filled the first instances: the new leader added more.)
  auto instances = json::parse(second.http("GET", "/v1/api/orchestrations/Thing").body)["instances"].size();
  CHECK(instances > 2);
  if (!test::wait_until([&] { return workers_of(second.pid()) == static_cast<int>(instances); }, 60s))
    FAIL(second.log());
  CHECK(workers_of(first_pid) == 0);
  CHECK(second.http("POST", "/v1/api/orchestrations/Thing/orchestrate", "{}").status == 200);
  second.process->stop(30s);
}
