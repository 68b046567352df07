// Distributed faults against real servers (SPEC 9, 10): the daemon on a three-server ZooKeeper
// ensemble that loses its leader and then its quorum while notifies flow, and a leading daemon
// partitioned from ZooKeeper (a frozen TCP link) while a standby takes over.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <regex>
#include <set>
#include <signal.h>
#include <thread>

#include <nlohmann/json.hpp>

#include "io/zookeeper_store.hpp"
#include "model/orchestration.hpp"
#include "model/zk_layout.hpp"
#include "tests/fixtures/e2e_support.hpp"
#include "tests/fixtures/fault_proxy.hpp"
#include "tests/fixtures/ids.hpp"
#include "tests/fixtures/zookeeper_ensemble.hpp"
#include "tests/fixtures/zookeeper_reader.hpp"

using namespace iota;
using namespace std::chrono_literals;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

std::string create(const std::string& id) {
  return R"({"o":"c","t":"Thing","k":{"id":")" + id + R"("},"instance":{"id":")" + id + R"("}})";
}

// What ZooKeeper holds for Thing, read by the test's own session; `problems` lists ids placed
// twice and counts that disagree.
struct placement {
  model::orchestration state;
  std::vector<std::string> problems;
};

placement read_placement(const std::string& hosts) {
  test::zookeeper_reader reader{hosts};
  std::promise<model::fetched_instances> p;
  auto f = p.get_future();
  reader->fetch_instances(model::resource_path("Thing"), [&p](model::fetched_instances r) { p.set_value(std::move(r)); });
  REQUIRE(f.wait_for(60s) == std::future_status::ready);
  auto fetched = f.get();
  REQUIRE(fetched.rc == io::zk_ok);
  placement out;
  out.state = model::orchestration::from_instances(std::move(fetched.instances), 5000, &out.problems);
  return out;
}

// Publishes creates for "<prefix>-0", "<prefix>-1", ... in small batches until stopped, each id
// first appended to the given inventory files (the platform's database has every resource it
// announces, so a reconcile keeps them).
class notify_stream {
 public:
  notify_stream(std::string url, std::string prefix, std::vector<std::string> inventories)
      : url_(std::move(url)), prefix_(std::move(prefix)), inventories_(std::move(inventories)) {
    thread_ = std::thread([this] { run(); });
  }
  ~notify_stream() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
  }
  std::vector<std::string> ids() const {
    std::lock_guard<std::mutex> g{m_};
    return ids_;
  }
  std::size_t published() const { return published_.load(); }
  std::string failure() const {
    std::lock_guard<std::mutex> g{m_};
    return failure_;
  }

 private:
  void run() {
    int next = 0;
    while (!stop_) {
      std::vector<std::string> batch, payloads;
      for (int i = 0; i < 10; ++i)
        batch.push_back(prefix_ + "-" + std::to_string(next++));
      for (auto& path : inventories_) {
        std::ofstream inv{path, std::ios::app};
        for (auto& id : batch)
          inv << id << "\n";
      }
      for (auto& id : batch)
        payloads.push_back(create(id));
      try {
        test::mqtt_publish(url_, "cm/notify", payloads);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> g{m_};
        failure_ = e.what();
        return;
      }
      {
        std::lock_guard<std::mutex> g{m_};
        ids_.insert(ids_.end(), batch.begin(), batch.end());
      }
      published_ += batch.size();
      std::this_thread::sleep_for(200ms);  // the stream's pace: ~50 notifies a second
    }
  }

  std::string url_, prefix_;
  std::vector<std::string> inventories_;
  mutable std::mutex m_;
  std::vector<std::string> ids_;
  std::string failure_;
  std::atomic<std::size_t> published_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::set<pid_t> worker_pids(pid_t parent) {
  std::set<pid_t> out;
  for (const auto& w : test::iota_instance_processes())
    if (w.parent == parent && !w.zombie)
      out.insert(w.pid);
  return out;
}

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

}  // namespace

TEST_CASE("a ZooKeeper ensemble loses its leader, then its quorum for 20 s, mid-stream: nothing lost or "
          "doubled, writes resume within seconds, no worker restarted",
          "[e2e][faults][ensemble]") {
  test::zookeeper_ensemble zk;
  test::mosquitto_server broker;
  test::kafka_mock kafka;
  test::temp_dir templates{"iota-templates"};
  test::write_worker_template(templates.path(), "iota-dac", "Thing", R"(, "--heartbeat", "1")");
  test::daemon_options o;
  o.zookeeper = zk.hosts();
  o.mqtt_url = broker.url();
  o.templates_dir = templates.path();
  o.with_rule = false;
  o.init_instances = 2;
  o.thing_inventory = test::numbered_ids(50, "thing-");
  o.extra_yaml = test::local_workers_yaml(kafka);
  test::daemon_process daemon{o};
  daemon.start();
  auto port = daemon.http_port();
  auto get = [&](const std::string& path) { return test::http_request(port, "GET", path); };
  auto resources = [&] {
    auto j = json::parse(get("/v1/api/orchestrations/Thing").body, nullptr, false);
    return j.is_object() ? j.value("resources", -1) : -1;
  };
  REQUIRE(test::http_request(port, "POST", "/v1/api/orchestrations/Thing/orchestrate").status == 200);
  REQUIRE(test::wait_until([&] {
    auto j = json::parse(get("/v1/api/orchestrations/Thing").body, nullptr, false);
    if (!j.is_object() || j["instances"].size() != 2)
      return false;
    for (auto& i : j["instances"])
      if (i["pod"]["phase"] != "Running" || i["lastHeartbeat"].is_null())
        return false;
    return true;
  }, 120s));
  auto workers = worker_pids(daemon.pid());
  REQUIRE(workers.size() == 2);

  notify_stream stream{broker.url(), "stream", {daemon.dir() + "/Thing.txt"}};
  REQUIRE(test::wait_until([&] { return resources() > 80; }, 60s));

  // The ensemble's leader killed mid-stream: another member leads within seconds.
  auto first = static_cast<std::size_t>(zk.leader());
  zk.kill(first);
  REQUIRE(zk.wait_for_quorum(60s));
  auto applied = resources();
  REQUIRE(test::wait_until([&] { return resources() > applied + 50; }, 60s));  // writes go on

  // A follower too: two of three down, no quorum, for 20 s (longer than the session timeout).
  auto second = static_cast<std::size_t>(zk.leader());
  zk.kill(second);
  auto lost = clock_type::now();
  while (clock_type::now() - lost < 20s) {  // the fault's length, not a wait for an event
    REQUIRE(daemon.running());
    std::this_thread::sleep_for(500ms);
  }
  CHECK(zk.leader() == -1);

  // One member back: a quorum again. A notify published now is applied within seconds.
  zk.start(first);
  REQUIRE(zk.wait_for_quorum(90s));
  auto back = clock_type::now();
  auto marker = stream.published();
  REQUIRE(test::wait_until([&] {
    auto ids = stream.ids();
    return ids.size() > marker + 10 &&
           get("/v1/api/orchestrations/Thing/" + ids[marker + 10] + "/instances").status == 200;
  }, 120s));
  auto resumed = seconds_since(back);
  std::printf("ensemble: writes resumed %.1f s after the quorum returned\n", resumed);
  CHECK(resumed < 30);

  stream.stop();
  REQUIRE(stream.failure().empty());
  zk.start(second);
  REQUIRE(zk.wait_for_quorum(90s));
  auto published = stream.ids();
  auto total = static_cast<int>(50 + published.size());
  REQUIRE(test::wait_until([&] { return resources() == total; }, 120s));
  auto p = read_placement(zk.hosts());
  CHECK(p.problems.empty());
  CHECK(p.state.resources() == static_cast<std::size_t>(total));
  for (auto& id : published)
    CHECK(p.state.where(id).has_value());

  // ZooKeeper was away, the workers were not: the first two processes still run (the stream
  // added instances, each with its worker), and no instance restarted for any cause.
  auto now_running = worker_pids(daemon.pid());
  for (auto pid : workers)
    CHECK(now_running.count(pid) == 1);
  auto j = json::parse(get("/v1/api/orchestrations/Thing").body);
  CHECK(now_running.size() == j["instances"].size());
  for (auto& i : j["instances"]) {
    auto causes = i["pod"].value("restartsByCause", json::object());
    for (auto& [cause, n] : causes.items())
      CHECK(n == 0);
  }
  CHECK(daemon.count_in_log("restarting (exec)") == 0);
  CHECK(daemon.count_in_log("suspended: disconnected from ZooKeeper") == 1);
  CHECK(daemon.count_in_log("resumed: back in the same ZooKeeper session") == 1);
}
