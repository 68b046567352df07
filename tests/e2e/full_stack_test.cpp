// The whole stack end to end (issue 9): real ZooKeeper, mosquitto (no loss: max_queued_messages
// 0) and the Kafka stand-in; the daemon with the local-process driver running real
// `iota-instance` workers for Thing (heartbeats on Kafka, short periods). An inventory is
// orchestrated over REST; 2,000 notifies of every create/delete shape flow while one worker is
// killed with -9 and another silenced (SIGUSR1: it keeps serving but stops heart-beating). At
// the end the znodes hold exactly the expected inventory, every worker serves exactly the ids
// of its znode (read from the status file each worker rewrites on every load), and both broken
// instances were recreated, each for its own cause.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "io/zookeeper_store.hpp"
#include "model/zk_layout.hpp"
#include "tests/fixtures/e2e_support.hpp"
#include "tests/fixtures/ids.hpp"
#include "tests/fixtures/live_ids.hpp"

using namespace iota;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr int initial_ids = 2000;
constexpr int init_instances = 4;  // 2,000 ids: 4 instances of capacity 501
constexpr int batches = 8;
constexpr int notifies_per_batch = 250;

// A pod's restarts for one cause ("heartbeat", "phase", "missing") from the REST API.
int restarts(const json& pod, const char* cause) {
  auto by = pod.value("restartsByCause", json::object());
  return by.value(cause, 0);
}

void write_atomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out{tmp};
    out << content;
    REQUIRE(out.flush());
  }
  REQUIRE(std::rename(tmp.c_str(), path.c_str()) == 0);
}

// What ZooKeeper holds for one instance, read byte by byte (not through the daemon's codec).
struct znode_instance {
  std::int64_t used = -1;
  std::int64_t count = -1;
  std::int64_t times = -1;
  std::vector<std::string> ids;
};

class raw_reader {
 public:
  explicit raw_reader(const std::string& hosts) : store_(io::make_zookeeper_store(hosts)) {
    store_->start();
    REQUIRE(test::wait_until([&] { return store_->connected(); }, 60s));
  }
  ~raw_reader() { store_->stop(); }

  // Every instance of `resource`; nullopt if a read failed (an instance removed meanwhile,
  // a connection loss): the caller reads again.
  std::optional<std::map<int, znode_instance>> read(const std::string& resource) {
    auto root = model::resource_path(resource);
    std::promise<std::pair<io::zk_rc, std::vector<std::string>>> pc;
    auto fc = pc.get_future();
    store_->children(root, [&pc](io::zk_rc rc, std::vector<std::string> c) {
      pc.set_value({rc, std::move(c)});
    });
    if (fc.wait_for(30s) != std::future_status::ready) return std::nullopt;
    auto [rc, children] = fc.get();
    if (rc != io::zk_ok) return std::nullopt;
    std::map<int, znode_instance> out;
    for (auto& child : children) {
      auto id = model::parse_instance_name(child);
      if (!id) return std::nullopt;
      auto data = get(model::instance_path(root, *id));
      auto reload = get(model::reload_path(root, *id));
      auto resources = get(model::resources_path(root, *id));
      if (!data || !reload || !resources) return std::nullopt;
      auto d = json::parse(*data, nullptr, false);
      auto r = json::parse(*reload, nullptr, false);
      auto ids = json::parse(*resources, nullptr, false);
      // Bytes a worker could not read fail the test (get<> throws on a wrong type).
      INFO("instance " << child << ": " << *data << " " << *reload << " "
                       << resources->substr(0, 200));
      REQUIRE((d.is_object() && r.is_object() && ids.is_object() && ids["ids"].is_array()));
      znode_instance inst;
      inst.used = d.value("used", std::int64_t{-1});
      inst.count = d.value("count", std::int64_t{-1});
      inst.times = r.value("times", std::int64_t{-1});
      inst.ids = ids["ids"].get<std::vector<std::string>>();
      out.emplace(*id, std::move(inst));
    }
    return out;
  }

 private:
  std::optional<std::string> get(const std::string& path) {
    std::promise<std::optional<std::string>> p;
    auto f = p.get_future();
    store_->get(path, [&p](io::zk_rc rc, std::string data, std::int32_t) {
      p.set_value(rc == io::zk_ok ? std::optional<std::string>{std::move(data)} : std::nullopt);
    });
    if (f.wait_for(30s) != std::future_status::ready) return std::nullopt;
    return f.get();
  }

  std::shared_ptr<io::zookeeper_store> store_;
};

// The notify stream and the inventory it leaves, as the platform's data layer would produce
// them: each batch is "committed" (the inventory file rewritten) and then published. Within a
// batch no notify depends on another (deletes name ids placed before the batch, creates name
// fresh ids), so the test does not rely on the order inside a batch; batches are published one
// after the other, each acknowledged by the broker before the next.
class notify_stream {
 public:
  explicit notify_stream(std::vector<std::string> initial) {
    for (auto& id : initial) live_.add(id);
  }

  std::vector<std::string> next_batch(int n) {
    std::vector<std::string> pool = live_.ids();  // ids placed before this batch
    std::vector<std::string> out;
    auto take = [&]() -> std::optional<std::string> {
      if (pool.empty()) return std::nullopt;
      auto i = std::uniform_int_distribution<std::size_t>{0, pool.size() - 1}(rng_);
      std::swap(pool[i], pool.back());
      auto id = pool.back();
      pool.pop_back();
      return id;
    };
    auto fresh = [&] {
      auto id = "new-" + std::to_string(next_fresh_++);
      live_.add(id);
      ++created_;
      return id;
    };
    auto kill = [&](const std::string& id) {
      live_.remove(id);
      ++deleted_;
    };
    auto many = [&] { return std::uniform_int_distribution<int>{2, 6}(rng_); };
    for (int k = 0; k < n; ++k) {
      int roll = std::uniform_int_distribution<int>{0, 99}(rng_);
      json j;
      if (roll < 35) {  // c: k as an object, a bare string now and then
        auto id = fresh();
        j = {{"o", "c"},
             {"t", "Thing"},
             {"k", roll % 5 == 0 ? json(id) : json{{"id", id}}},
             {"instance", {{"id", id}}}};
        ++shapes_["c"];
      } else if (roll < 55) {  // bc: keys as objects and bare strings
        auto keys = json::array();
        for (int m = many(); m > 0; --m) {
          auto id = fresh();
          keys.push_back(m % 2 ? json{{"id", id}} : json(id));
        }
        j = {{"o", "bc"}, {"t", "Thing"}, {"keys", keys}};
        ++shapes_["bc"];
      } else if (roll < 82) {  // d
        auto id = take();
        if (!id) continue;
        kill(*id);
        j = {{"o", "d"}, {"t", "Thing"}, {"k", {{"id", *id}}}};
        ++shapes_["d"];
      } else if (roll < 97) {  // bd: where.id an array, or one value
        auto ids = json::array();
        for (int m = roll % 4 == 0 ? 1 : many(); m > 0; --m)
          if (auto id = take()) {
            kill(*id);
            ids.push_back(*id);
          }
        if (ids.empty()) continue;
        j = {{"o", "bd"}, {"t", "Thing"}, {"where", {{"id", ids.size() == 1 ? ids[0] : ids}}}};
        ++shapes_["bd"];
      } else if (roll < 99) {  // a delete of an id nobody placed: changes nothing
        j = {{"o", "d"}, {"t", "Thing"}, {"k", {{"id", "ghost-" + std::to_string(k)}}}};
        ++shapes_["noop"];
      } else {  // a create of an id already placed (redelivery): changes nothing
        auto id = take();
        if (!id) continue;
        j = {{"o", "c"}, {"t", "Thing"}, {"k", {{"id", *id}}}};
        ++shapes_["noop"];
      }
      out.push_back(j.dump());
    }
    return out;
  }

  std::set<std::string> expected() const { return live_.as_set(); }
  std::string inventory_text() const {
    std::string s;
    for (auto& id : live_.ids()) s += id + "\n";
    return s;
  }
  std::size_t created() const { return created_; }
  std::size_t deleted() const { return deleted_; }
  const std::map<std::string, int>& shapes() const { return shapes_; }

 private:
  std::mt19937 rng_{20240909};
  test::live_ids live_;
  int next_fresh_ = 0;
  std::size_t created_ = 0, deleted_ = 0;
  std::map<std::string, int> shapes_;
};

struct full_stack {
  test::zookeeper_server zk;
  test::mosquitto_server broker;
  test::kafka_mock kafka;
  test::temp_dir work{"iota-full-stack"};
  std::string status_pattern;  // the workers' --status-file, unique to this test
  std::unique_ptr<test::daemon_process> daemon;
  std::unique_ptr<raw_reader> reader;
  int port = 0;

  full_stack() {
    status_pattern = work.path() + "/status/Thing-{id}.json";
    ::mkdir((work.path() + "/status").c_str(), 0755);
    // Things heart-beat every 500 ms and write their status file; the daemon checks every 3 s.
    write_template("iota-dac", "Thing",
                   R"(, "--heartbeat", "500ms", "--status-file", ")" + status_pattern + R"(")");
    write_template("iota-rules-engine", "Rule", "");  // configured, not orchestrated here
    test::daemon_options o;
    o.zookeeper = zk.hosts();
    o.mqtt_url = broker.url();
    o.templates_dir = work.path() + "/templates";
    o.init_instances = init_instances;
    o.thing_inventory = test::uuids(initial_ids, 9);
    o.extra_yaml = test::local_workers_yaml(kafka);
    daemon = std::make_unique<test::daemon_process>(o);
    daemon->start();
    port = daemon->http_port();
    REQUIRE(test::wait_until([&] { return get("/readyz").status == 200; }, 120s));
    reader = std::make_unique<raw_reader>(zk.hosts());
  }

  ~full_stack() {
    daemon.reset();  // stops the workers too
    reader.reset();
  }

  void write_template(const std::string& name, const std::string& resource,
                      const std::string& args) {
    ::mkdir((work.path() + "/templates").c_str(), 0755);
    test::write_worker_template(work.path() + "/templates", name, resource, args);
  }

  test::http_result get(const std::string& path) { return test::http_request(port, "GET", path); }

  json orchestration() {
    auto res = get("/v1/api/orchestrations/Thing");
    REQUIRE(res.status == 200);
    return json::parse(res.body);
  }

  // instance id -> its "pod" object from the REST API.
  std::map<int, json> pods() {
    std::map<int, json> out;
    auto o = orchestration();
    for (auto& i : o["instances"]) out[std::stoi(i["id"].get<std::string>())] = i["pod"];
    return out;
  }

  // The worker's last status line (written atomically); null if none yet.
  json worker_status(int id) {
    auto path = status_pattern;
    path.replace(path.find("{id}"), 4, std::to_string(id));
    auto j = json::parse(test::read_file(path), nullptr, false);
    return j.is_discarded() ? json() : j;
  }

  // A live (not zombie) iota-instance of this test (its command line names our status file).
  bool is_our_worker(pid_t pid) {
    if (pid <= 0) return false;
    auto cmd = test::read_file("/proc/" + std::to_string(pid) + "/cmdline");
    auto stat = test::read_file("/proc/" + std::to_string(pid) + "/stat");
    auto state = stat.rfind(") ");
    return cmd.find("iota-instance") != std::string::npos &&
           cmd.find(status_pattern) != std::string::npos && state != std::string::npos &&
           stat.compare(state + 2, 1, "Z") != 0;
  }

  // The PID of the worker serving instance `id`, -1 if none is running.
  pid_t worker_pid(int id) {
    auto s = worker_status(id);
    if (!s.is_object() || s["instanceId"] != std::to_string(id)) return -1;
    auto pid = s["pid"].get<pid_t>();
    return is_our_worker(pid) ? pid : -1;
  }

  // Every instance's worker runs, serves exactly its znode's ids at its znode's reload count,
  // and heart-beats (not silent); the znodes hold exactly `expected`. `why` says what is not
  // so yet.
  bool settled(const std::set<std::string>& expected, std::string& why) {
    auto zn = reader->read("Thing");
    if (!zn) {
      why = "ZooKeeper read failed";
      return false;
    }
    std::set<std::string> placed;
    std::size_t total = 0;
    for (auto& [id, inst] : *zn) {
      total += inst.ids.size();
      placed.insert(inst.ids.begin(), inst.ids.end());
      if (inst.used != static_cast<std::int64_t>(inst.ids.size()) || inst.used > inst.count) {
        why = "instance " + std::to_string(id) + ": used " + std::to_string(inst.used) + ", " +
              std::to_string(inst.ids.size()) + " ids, count " + std::to_string(inst.count);
        return false;
      }
    }
    if (total != placed.size()) {
      why = std::to_string(total - placed.size()) + " ids on more than one instance";
      return false;
    }
    if (placed != expected) {
      std::size_t missing = 0, extra = 0;
      for (auto& e : expected) missing += placed.count(e) == 0;
      for (auto& p : placed) extra += expected.count(p) == 0;
      why = "znodes: " + std::to_string(missing) + " expected ids missing, " +
            std::to_string(extra) + " unexpected ids";
      return false;
    }
    for (auto& [id, inst] : *zn) {
      auto s = worker_status(id);
      auto pid = worker_pid(id);
      if (pid < 0) {
        why = "no running worker for instance " + std::to_string(id);
        return false;
      }
      std::vector<std::string> served;
      for (auto& i : s["ids"]) served.push_back(i.get<std::string>());
      if (std::set<std::string>(served.begin(), served.end()) !=
              std::set<std::string>(inst.ids.begin(), inst.ids.end()) ||
          served.size() != inst.ids.size() || s["reloadTimes"] != inst.times) {
        why = "worker " + std::to_string(id) + " serves " + std::to_string(served.size()) +
              " ids at reload " + s["reloadTimes"].dump() + ", its znode has " +
              std::to_string(inst.ids.size()) + " at " + std::to_string(inst.times);
        return false;
      }
      if (s["silent"] != false || s["hung"] != false || s.value("heartbeats", 0) < 1) {
        why = "worker " + std::to_string(id) + " is silent or hung, or did not heart-beat yet";
        return false;
      }
    }
    auto o = orchestration();
    if (o["instances"].size() != zn->size()) {
      why = "REST API lists " + std::to_string(o["instances"].size()) + " instances, ZooKeeper " +
            std::to_string(zn->size());
      return false;
    }
    for (auto& i : o["instances"])
      if (i["pod"]["phase"] != "Running" || i["lastHeartbeat"].is_null()) {
        why = "instance " + i["id"].get<std::string>() + ": pod " + i["pod"]["phase"].dump() +
              ", last heartbeat " + i["lastHeartbeat"].dump();
        return false;
      }
    return true;
  }
};

}  // namespace

TEST_CASE_METHOD(full_stack, "full stack: 2,000 notifies, a worker killed, a worker silenced",
                 "[e2e][full]") {
  auto t0 = std::chrono::steady_clock::now();
  auto res = test::http_request(port, "POST", "/v1/api/orchestrations/Thing/orchestrate");
  REQUIRE(res.status == 200);
  notify_stream stream{test::uuids(initial_ids, 9)};

  // Every worker is up: it heart-beats and serves its share.
  std::string why;
  bool up_ok = test::wait_until(
      [&] { return pods().size() == init_instances && settled(stream.expected(), why); }, 120s);
  INFO("workers up: " << why);
  REQUIRE(up_ok);
  {
    auto o = orchestration();
    for (auto& i : o["instances"]) CHECK(i["count"] == 501);
  }
  auto up = std::chrono::steady_clock::now();

  const int killed = init_instances - 1;  // the instance creates go to: it gets changes while down
  const int silenced = 0;
  pid_t killed_pid = worker_pid(killed);
  pid_t silenced_pid = worker_pid(silenced);
  REQUIRE(killed_pid > 0);
  REQUIRE(silenced_pid > 0);

  auto inventory = daemon->dir() + "/Thing.txt";
  std::size_t sent = 0;
  for (int b = 0; b < batches; ++b) {
    auto batch = stream.next_batch(notifies_per_batch);
    sent += batch.size();
    write_atomically(inventory, stream.inventory_text());  // the data layer commits, then notifies
    test::mqtt_publish(broker.url(), "cm/notify", batch);
    if (b == 2)
      REQUIRE(::kill(killed_pid, SIGKILL) == 0);  // mid-stream: 750 notifies sent, 1,250 to come
    if (b == 4)
      REQUIRE(::kill(silenced_pid, SIGUSR1) == 0);  // alive and serving, no more heartbeats
  }
  auto published = std::chrono::steady_clock::now();
  CHECK(sent == batches * notifies_per_batch);
  auto expected = stream.expected();
  INFO("created " << stream.created() << ", deleted " << stream.deleted() << ", expected "
                  << expected.size());
  for (auto& [shape, n] : stream.shapes())
    CHECK(n >= 10);  // every shape (c, bc, d, bd, no-op) is really in the stream

  // The silenced worker said so, and stayed alive until the daemon replaced it.
  REQUIRE(test::wait_until(
      [&] {
        return worker_status(silenced)["silent"] == true || worker_pid(silenced) != silenced_pid;
      },
      60s));

  // Both broken instances are recreated, each for its own cause, and everything settles.
  bool settled_ok = test::wait_until(
      [&] {
        auto p = pods();
        return restarts(p[killed], "phase") >= 1 && restarts(p[silenced], "heartbeat") >= 1 &&
               settled(expected, why);
      },
      150s);
  INFO("settled: " << why);
  REQUIRE(settled_ok);
  auto done = std::chrono::steady_clock::now();
  REQUIRE(settled(expected, why));

  auto p = pods();
  CHECK(p.size() > init_instances);  // net creates outgrew the 4 x 501 first instances
  CHECK(restarts(p[killed], "phase") == 1);
  CHECK(restarts(p[killed], "heartbeat") == 0);
  CHECK(restarts(p[silenced], "heartbeat") == 1);
  CHECK(restarts(p[silenced], "phase") == 0);
  for (auto& [id, pod] : p)
    if (id != killed && id != silenced)
      CHECK(pod["restarts"] == 0);  // no healthy worker was restarted by mistake
  CHECK(daemon->count_in_log("Not receive heartBeat rightly, delete instance [" +
                             std::to_string(silenced) + "]") == 1);

  // New processes serve the broken instances; the old ones are gone.
  CHECK(worker_pid(killed) > 0);
  CHECK(worker_pid(killed) != killed_pid);
  CHECK(worker_pid(silenced) > 0);
  CHECK(worker_pid(silenced) != silenced_pid);
  CHECK(!is_our_worker(killed_pid));
  CHECK(!is_our_worker(silenced_pid));
  CHECK(worker_status(silenced)["silent"] == false);

  // The daemon's own view agrees with ZooKeeper.
  auto o = orchestration();
  CHECK(o["resources"] == expected.size());

  auto secs = [](auto a, auto b) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count() / 1000.0;
  };
  WARN("full stack: workers up " << secs(t0, up) << " s, 2,000 notifies published "
                                 << secs(up, published) << " s, settled " << secs(published, done)
                                 << " s later; " << p.size() << " instances, " << expected.size()
                                 << " ids");
}
