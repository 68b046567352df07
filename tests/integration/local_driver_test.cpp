// io/local_process_driver.cpp running the reference worker (apps/iota-instance) from the
// repo's iota-dac pod template, against a real ZooKeeper (tests/fixtures/zookeeper_server)
// and the local Kafka stand-in (tests/fixtures/kafka_mock). Every wait is on a condition with
// a generous deadline: CI is a loaded 2-core machine.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "io/instance_driver.hpp"
#include "io/kafka_consumer.hpp"
#include "io/local_process_driver.hpp"
#include "io/zookeeper_store.hpp"
#include "model/heartbeat.hpp"
#include "model/zk_layout.hpp"
#include "tests/fixtures/callbacks.hpp"
#include "tests/fixtures/files.hpp"
#include "tests/fixtures/kafka_mock.hpp"
#include "tests/fixtures/process.hpp"
#include "tests/fixtures/zookeeper_server.hpp"

#ifndef IOTA_INSTANCE_BIN
#error "IOTA_INSTANCE_BIN (the path of the iota-instance binary) must be defined"
#endif
#ifndef IOTA_SOURCE_DIR
#error "IOTA_SOURCE_DIR must be defined"
#endif

using namespace std::chrono_literals;
using nlohmann::json;
namespace io = iota::io;
namespace model = iota::model;
namespace test = iota::test;
using clock_type = std::chrono::steady_clock;
using iota::test::await_callback;
using iota::test::read_file;

namespace {

constexpr auto deadline = 60s;
const std::string resource = "Thing";
const std::string root = "/iota/orchestration/Thing";

std::string iota_dac_template() {
  std::string text =
    read_file(std::string(IOTA_SOURCE_DIR) + "/templates/iota-dac/pod-template.yml");
  REQUIRE(!text.empty());
  return text;
}

std::string bin_dir() {
  std::string bin = IOTA_INSTANCE_BIN;
  return bin.substr(0, bin.rfind('/'));
}

io::instance_ref dac(int id) { return io::instance_ref{resource, "iota-dac", id}; }

std::vector<std::string> ids_for(int instance, int n) {
  std::vector<std::string> ids;
  for (int k = 0; k < n; ++k)
    ids.push_back("thing-" + std::to_string(instance) + "-" + std::to_string(k));
  return ids;
}

// ---- ZooKeeper, synchronously --------------------------------------------------------

class zk_client {
 public:
  explicit zk_client(const std::string& hosts) : store_(io::make_zookeeper_store(hosts)) {
    store_->start();
    REQUIRE(test::wait_until([&] { return store_->connected(); }, deadline));
  }
  ~zk_client() { store_->stop(); }

  io::zk_rc ensure_path(const std::string& path) {
    return await_callback<io::zk_rc>(deadline, [&](auto done) { store_->ensure_path(path, done); });
  }

  io::zk_rc multi(std::vector<model::zk_op> ops) {
    return await_callback<io::zk_rc>(deadline, [&](auto done) {
      store_->multi(std::move(ops), [done](io::zk_rc rc, std::vector<io::zk_rc>) { done(rc); });
    });
  }

  // The four znodes of an instance, in one multi-op, as the orchestrator writes them.
  void create_instance(int id, const std::vector<std::string>& ids, std::int64_t times) {
    REQUIRE(ensure_path(root) == io::zk_ok);
    using k = model::zk_op::kind;
    REQUIRE(multi({{k::create, model::instance_path(root, id),
                    model::encode_instance_data(ids.size(), 10), -1},
                   {k::create, model::tmp_path(root, id), model::encode_tmp(), -1},
                   {k::create, model::reload_path(root, id), model::encode_reload(times), -1},
                   {k::create, model::resources_path(root, id), model::encode_resources(ids),
                    -1}}) == io::zk_ok);
  }

  // A change of the instance's share with its `_reload` bump, in one multi-op.
  void reassign(int id, const std::vector<std::string>& ids, std::int64_t times) {
    using k = model::zk_op::kind;
    REQUIRE(
      multi(
        {{k::set, model::instance_path(root, id), model::encode_instance_data(ids.size(), 10), -1},
         {k::set, model::resources_path(root, id), model::encode_resources(ids), -1},
         {k::set, model::reload_path(root, id), model::encode_reload(times), -1}}) == io::zk_ok);
  }

 private:
  std::shared_ptr<io::zookeeper_store> store_;
};

// `mntr`'s zk_num_alive_connections (a four-letter word the fixture whitelists); -1 on error.
int alive_connections(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, "mntr", 4, MSG_NOSIGNAL) == 4) {
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0)
      reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const std::string key = "zk_num_alive_connections\t";
  auto pos = reply.find(key);
  if (pos == std::string::npos)
    return -1;
  return std::atoi(reply.c_str() + pos + key.size());
}

// ---- what the driver reports ---------------------------------------------------------

struct phase_event {
  clock_type::time_point at;
  io::pod_status status;
  std::thread::id thread;
};

class phase_log {
 public:
  void add(io::pod_status s) {
    std::lock_guard lk(mu_);
    events_.push_back({clock_type::now(), std::move(s), std::this_thread::get_id()});
    cv_.notify_all();
  }
  // The first event of `pod` with `phase` (at index `from` or later), waiting for it.
  std::optional<phase_event> wait_for(const std::string& pod, io::pod_phase phase,
                                      std::size_t from = 0,
                                      std::chrono::milliseconds d = deadline) {
    std::unique_lock lk(mu_);
    std::optional<phase_event> found;
    cv_.wait_for(lk, d, [&] {
      for (auto i = from; i < events_.size(); ++i)
        if (events_[i].status.instance.pod_name() == pod && events_[i].status.phase == phase) {
          found = events_[i];
          return true;
        }
      return false;
    });
    return found;
  }
  std::vector<phase_event> events() {
    std::lock_guard lk(mu_);
    return events_;
  }
  std::size_t size() {
    std::lock_guard lk(mu_);
    return events_.size();
  }
  std::string text() {
    std::lock_guard lk(mu_);
    std::string out;
    for (auto& e : events_)
      out += e.status.instance.pod_name() + " " + std::string(io::to_string(e.status.phase)) +
             " (" + e.status.detail + ")\n";
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<phase_event> events_;
};

struct outcome {
  io::driver_result result;
  std::thread::id thread;
  clock_type::time_point at;
};

// Runs one driver call and waits for its callback.
outcome await(const std::function<void(io::instance_driver::result_fn)>& call) {
  return await_callback<outcome>(deadline, [&](auto done) {
    call([done](io::driver_result r) {
      done({std::move(r), std::this_thread::get_id(), clock_type::now()});
    });
  });
}

outcome create(io::instance_driver& d, const io::instance_ref& ref) {
  return await([&](io::instance_driver::result_fn done) { d.create(ref, std::move(done)); });
}

outcome remove(io::instance_driver& d, const io::instance_ref& ref) {
  return await([&](io::instance_driver::result_fn done) { d.remove(ref, std::move(done)); });
}

io::pod_status get(io::instance_driver& d, const io::instance_ref& ref) {
  return await_callback<io::pod_status>(deadline, [&](auto done) { d.get(ref, done); });
}

// "pid 1234" (the detail of a Running status).
pid_t pid_of(const std::string& detail) {
  auto pos = detail.find("pid ");
  REQUIRE(pos != std::string::npos);
  return static_cast<pid_t>(std::atoi(detail.c_str() + pos + 4));
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

// Our children still running `exe` (by parent PID, read from /proc).
std::vector<pid_t> children_running(const std::string& exe) {
  std::vector<pid_t> out;
  DIR* dir = ::opendir("/proc");
  if (!dir)
    return out;
  while (dirent* e = ::readdir(dir)) {
    pid_t pid = std::atoi(e->d_name);
    if (pid <= 0)
      continue;
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    auto close_paren = stat.rfind(')');
    if (close_paren == std::string::npos)
      continue;
    std::istringstream rest(stat.substr(close_paren + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != ::getpid())
      continue;
    char buf[4096];
    auto n = ::readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf - 1);
    if (n > 0 && std::string(buf, static_cast<std::size_t>(n)) == exe)
      out.push_back(pid);
  }
  ::closedir(dir);
  return out;
}

std::vector<std::string> split_nul(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    auto end = s.find('\0', start);
    if (end == std::string::npos)
      end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// The worker's --status-file line; nullopt until it exists.
std::optional<json> read_status(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line))
    return std::nullopt;
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded())
    return std::nullopt;
  return j;
}

// Waits until the status file satisfies `pred`; the last status seen goes to `last`.
bool wait_status(const std::string& path, const std::function<bool(const json&)>& pred, json& last,
                 std::chrono::milliseconds d = deadline) {
  return test::wait_until(
    [&] {
      auto s = read_status(path);
      if (!s)
        return false;
      last = *s;
      return pred(*s);
    },
    d);
}

// Heartbeats seen on Kafka, by instance id.
class heartbeat_log {
 public:
  void add(const std::string& value) {
    std::lock_guard lk(mu_);
    values_.push_back(value);
  }
  std::vector<std::string> values() {
    std::lock_guard lk(mu_);
    return values_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> values_;
};

}  // namespace

TEST_CASE(
  "local driver: iota-instance workers from the iota-dac template serve their shard, "
  "reload, heart-beat, and are followed as they change",
  "[local_driver]") {
  test::zookeeper_server zk;
  test::kafka_mock kafka;
  test::temp_dir dir("iota-local-driver");
  zk_client client(zk.hosts());

  std::map<int, std::vector<std::string>> shard{
    {0, ids_for(0, 2)}, {1, ids_for(1, 3)}, {2, ids_for(2, 4)}};
  for (auto& [id, ids] : shard)
    client.create_instance(id, ids, 1);

  // Heartbeats start at the latest offset: be assigned before any worker runs.
  heartbeat_log beats;
  auto consumer = io::make_kafka_consumer({kafka.bootstrap(), "local-driver-test", "HeartBeat"});
  consumer->start([&](std::string v) { beats.add(v); }, [](bool, const std::string&) {});
  REQUIRE(test::wait_until([&] { return consumer->assigned(); }, deadline));

  io::local_driver_settings settings;
  settings.log_dir = dir.path() + "/logs";
  settings.bin_dir = bin_dir();
  settings.env_overrides = {{"IOTA_ZOOKEEPER", zk.hosts()},
                            {"IOTA_KAFKA_BROKERS", kafka.bootstrap()}};
  settings.extra_args = {"--heartbeat", "1", "--status-file", dir.path() + "/{resource}-{id}.json"};
  auto driver = io::make_local_process_driver(settings);
  phase_log phases;
  driver->watch([&](io::pod_status s) { phases.add(std::move(s)); });
  driver->add_template(resource, "iota-dac", iota_dac_template());

  std::map<int, pid_t> pids;
  for (auto& [id, ids] : shard) {
    auto r = create(*driver, dac(id));
    INFO(r.result.detail);
    REQUIRE(r.result.ok());
    CHECK(r.thread != std::this_thread::get_id());  // callbacks run on the driver's thread
    auto running = phases.wait_for(dac(id).pod_name(), io::pod_phase::running);
    REQUIRE(running);
    pids[id] = pid_of(running->status.detail);
    CHECK(process_exists(pids[id]));
  }
  auto status_file = [&](int id) { return dir.path() + "/Thing-" + std::to_string(id) + ".json"; };
  auto log_file = [&](int id) {
    return settings.log_dir + "/iota-dac-" + std::to_string(id) + ".log";
  };

  // Each worker serves exactly its shard.
  for (auto& [id, ids] : shard) {
    json st;
    INFO("instance " << id << ": " << st.dump() << "\n" << test::file_tail(log_file(id)));
    REQUIRE(wait_status(
      status_file(id), [&](const json& s) { return s.value("loads", 0) >= 1; }, st));
    CHECK(st["resources"] == ids.size());
    CHECK(st["reloadTimes"] == 1);
    CHECK(st["ids"].get<std::vector<std::string>>() == ids);
    CHECK(st["pid"] == pids[id]);
    CHECK(test::file_tail(log_file(id))
            .find("serving " + std::to_string(ids.size()) + " resources (reload times 1)") !=
          std::string::npos);
  }

  // The process: the template's command and args (+ extra args), env[0] first, the daemon's
  // overrides replacing the template's values.
  {
    auto argv = split_nul(read_file("/proc/" + std::to_string(pids[0]) + "/cmdline"));
    REQUIRE(argv.size() >= 5);
    CHECK(argv[0] == "iota-instance");
    CHECK(argv[1] == "--resource");
    CHECK(argv[2] == "Thing");
    CHECK(argv[3] == "--heartbeat");
    auto env = split_nul(read_file("/proc/" + std::to_string(pids[0]) + "/environ"));
    REQUIRE(!env.empty());
    CHECK(env[0] == "IOTA_INSTANCE_ID=0");
    CHECK(std::count(env.begin(), env.end(), "IOTA_ZOOKEEPER=" + zk.hosts()) == 1);
    CHECK(std::count(env.begin(), env.end(), "IOTA_KAFKA_BROKERS=" + kafka.bootstrap()) == 1);
    CHECK(std::count(env.begin(), env.end(), "IOTA_RESOURCE=Thing") == 1);
    CHECK(std::count(env.begin(), env.end(), "IOTA_ZOOKEEPER=zookeeper.iota:2181") == 0);
  }

  // A change of instance 1's share with its `_reload` bump: the worker re-reads.
  shard[1] = ids_for(1, 5);
  client.reassign(1, shard[1], 2);
  {
    json st;
    INFO(st.dump() << "\n" << test::file_tail(log_file(1)));
    REQUIRE(wait_status(
      status_file(1), [&](const json& s) { return s.value("reloadTimes", 0) == 2; }, st));
    CHECK(st["resources"] == 5);
    CHECK(st["ids"].get<std::vector<std::string>>() == shard[1]);
    CHECK(test::file_tail(log_file(1)).find("serving 5 resources (reload times 2)") !=
          std::string::npos);
  }
  // ... every time (the watch is re-armed).
  shard[1] = ids_for(1, 1);
  client.reassign(1, shard[1], 3);
  {
    json st;
    INFO(st.dump());
    REQUIRE(wait_status(
      status_file(1), [&](const json& s) { return s.value("reloadTimes", 0) == 3; }, st));
    CHECK(st["resources"] == 1);
  }

  // Heartbeats of all three on Kafka, in the shape the orchestrator parses.
  {
    std::map<int, json> last;
    bool all = test::wait_until(
      [&] {
        for (auto& v : beats.values()) {
          auto parsed = model::parse_heartbeat(v);
          REQUIRE(std::holds_alternative<model::heartbeat>(parsed));
          auto& hb = std::get<model::heartbeat>(parsed);
          CHECK(hb.resource == "Thing");
          CHECK(hb.ts_ms.has_value());
          last[hb.instance_id] = json::parse(v);
        }
        // Each worker's latest heartbeat reports its shard (a first one, sent before the
        // shard loaded, says 0: under load the others' next may come after worker 1's).
        return last.size() == 3 && last[0]["resources"] == 2 && last[1]["resources"] == 1 &&
               last[2]["resources"] == 4;
      },
      deadline);
    INFO(json(last).dump());
    REQUIRE(all);
    CHECK(last[0]["instanceId"] == "0");
    CHECK(last[0]["resources"] == 2);
    CHECK(last[2]["resources"] == 4);
  }

  // kill -9: the watch reports Failed at once, not at the next poll.
  {
    auto from = phases.size();
    auto killed_at = clock_type::now();
    REQUIRE(::kill(pids[2], SIGKILL) == 0);
    auto failed = phases.wait_for("iota-dac-2", io::pod_phase::failed, from);
    INFO(phases.text());
    REQUIRE(failed);
    CHECK(failed->at - killed_at < 1s);
    CHECK(failed->status.detail == "signal 9");
    CHECK(failed->thread != std::this_thread::get_id());
    CHECK(get(*driver, dac(2)).phase == io::pod_phase::failed);
    CHECK_FALSE(process_exists(pids[2]));  // reaped
  }

  // create() of a running instance: conflict (the 409 of a pod that exists).
  {
    auto r = create(*driver, dac(0));
    CHECK(r.result.status == io::driver_result::code::conflict);
    CHECK(get(*driver, dac(0)).phase == io::pod_phase::running);
  }

  // remove(): done once the process is gone, then Missing; a second remove: not_found.
  {
    auto from = phases.size();
    auto r = remove(*driver, dac(1));
    INFO(r.result.detail);
    CHECK(r.result.ok());
    CHECK_FALSE(process_exists(pids[1]));
    auto missing = phases.wait_for("iota-dac-1", io::pod_phase::missing, from);
    REQUIRE(missing);
    for (auto& e : phases.events())
      if (e.status.instance.pod_name() == "iota-dac-1")
        CHECK(
          (e.status.phase == io::pod_phase::running || e.status.phase == io::pod_phase::missing));
    CHECK(get(*driver, dac(1)).phase == io::pod_phase::missing);
    CHECK(remove(*driver, dac(1)).result.status == io::driver_result::code::not_found);
    // The worker stopped cleanly on SIGTERM.
    CHECK(test::file_tail(log_file(1)).find("stopping on signal") != std::string::npos);
  }

  // remove() of the Failed one forgets it; create() brings it back with a new process.
  {
    auto from = phases.size();
    CHECK(remove(*driver, dac(2)).result.ok());
    REQUIRE(phases.wait_for("iota-dac-2", io::pod_phase::missing, from));
    REQUIRE(create(*driver, dac(2)).result.ok());
    auto running = phases.wait_for("iota-dac-2", io::pod_phase::running, from);
    REQUIRE(running);
    pids[2] = pid_of(running->status.detail);
    json st;
    REQUIRE(wait_status(
      status_file(2), [&](const json& s) { return s["pid"] == pids[2] && s["loads"] >= 1; }, st));
    CHECK(st["resources"] == 4);
  }

  // stop(): no child left, no callback after it.
  driver->stop();
  for (auto& [id, pid] : pids)
    CHECK_FALSE(process_exists(pid));
  CHECK(children_running(IOTA_INSTANCE_BIN).empty());
  auto seen = phases.size();
  auto after = create(*driver, dac(3));
  CHECK(after.result.status == io::driver_result::code::error);
  CHECK(after.thread == std::this_thread::get_id());  // stopped: answered on the spot
  CHECK(get(*driver, dac(0)).phase == io::pod_phase::missing);
  CHECK(phases.size() == seen);
  consumer->stop();
}

TEST_CASE("local driver: a worker that exits is reported Succeeded or Failed as it happens",
          "[local_driver]") {
  test::temp_dir dir("iota-local-driver");
  auto make = [&](const std::string& code) {
    io::local_driver_settings settings;
    settings.log_dir = dir.path() + "/logs-" + code;
    settings.bin_dir = bin_dir();
    // Nothing listens there: the worker keeps trying, which is all it needs to do here.
    settings.env_overrides = {{"IOTA_ZOOKEEPER", "127.0.0.1:" + std::to_string(test::free_port())}};
    settings.extra_args = {"--no-heartbeat", "--exit-after", "1", code};
    auto d = io::make_local_process_driver(settings);
    d->add_template(resource, "iota-dac", iota_dac_template());
    return d;
  };
  auto ok_driver = make("0");
  auto bad_driver = make("3");
  phase_log phases;
  ok_driver->watch([&](io::pod_status s) { phases.add(std::move(s)); });
  bad_driver->watch([&](io::pod_status s) { phases.add(std::move(s)); });

  auto started = clock_type::now();
  REQUIRE(create(*ok_driver, dac(0)).result.ok());
  REQUIRE(create(*bad_driver, dac(1)).result.ok());

  auto succeeded = phases.wait_for("iota-dac-0", io::pod_phase::succeeded);
  auto failed = phases.wait_for("iota-dac-1", io::pod_phase::failed);
  INFO(phases.text() << test::file_tail(dir.path() + "/logs-0/iota-dac-0.log"));
  REQUIRE(succeeded);
  REQUIRE(failed);
  CHECK(succeeded->status.detail == "exit code 0");
  CHECK(failed->status.detail == "exit code 3");
  CHECK(succeeded->at - started >= 1s);
  CHECK(get(*ok_driver, dac(0)).phase == io::pod_phase::succeeded);
  CHECK(get(*bad_driver, dac(1)).phase == io::pod_phase::failed);

  // An exited instance is re-created in place (a new process), no remove() needed.
  auto from = phases.size();
  REQUIRE(create(*ok_driver, dac(0)).result.ok());
  REQUIRE(phases.wait_for("iota-dac-0", io::pod_phase::running, from));
  REQUIRE(phases.wait_for("iota-dac-0", io::pod_phase::succeeded, from));
  ok_driver->stop();
  bad_driver->stop();
  CHECK(children_running(IOTA_INSTANCE_BIN).empty());
}

TEST_CASE("local driver: remove() and stop() escalate to SIGKILL after kill_grace",
          "[local_driver]") {
  test::temp_dir dir("iota-local-driver");
  io::local_driver_settings settings;
  settings.log_dir = dir.path() + "/logs";
  settings.bin_dir = bin_dir();
  settings.env_overrides = {{"IOTA_ZOOKEEPER", "127.0.0.1:" + std::to_string(test::free_port())}};
  settings.extra_args = {"--no-heartbeat", "--ignore-sigterm", "--status-file",
                         dir.path() + "/{id}.json"};
  settings.kill_grace = 1000ms;
  auto driver = io::make_local_process_driver(settings);
  phase_log phases;
  driver->watch([&](io::pod_status s) { phases.add(std::move(s)); });
  driver->add_template(resource, "iota-dac", iota_dac_template());

  std::map<int, pid_t> pids;
  for (int id : {0, 1}) {
    REQUIRE(create(*driver, dac(id)).result.ok());
    auto running = phases.wait_for(dac(id).pod_name(), io::pod_phase::running);
    REQUIRE(running);
    pids[id] = pid_of(running->status.detail);
    // Up, with SIGTERM ignored, once it has written its status.
    json st;
    REQUIRE(wait_status(
      dir.path() + "/" + std::to_string(id) + ".json", [](const json&) { return true; }, st));
  }

  auto asked = clock_type::now();
  auto r = remove(*driver, dac(0));
  CHECK(r.result.ok());
  CHECK(r.result.detail.find("signal 9") != std::string::npos);
  CHECK(r.at - asked >= 1000ms);
  CHECK_FALSE(process_exists(pids[0]));

  // A second remove() while the first waits joins it.
  asked = clock_type::now();
  auto first = std::make_shared<std::promise<io::driver_result>>();
  auto second = std::make_shared<std::promise<io::driver_result>>();
  driver->remove(dac(1), [first](io::driver_result x) { first->set_value(x); });
  driver->remove(dac(1), [second](io::driver_result x) { second->set_value(x); });
  auto f1 = first->get_future();
  auto f2 = second->get_future();
  REQUIRE(f1.wait_for(deadline) == std::future_status::ready);
  REQUIRE(f2.wait_for(deadline) == std::future_status::ready);
  CHECK(f1.get().ok());
  CHECK(f2.get().ok());
  CHECK_FALSE(process_exists(pids[1]));

  // stop() with a worker that ignores SIGTERM: it is killed, stop() returns, nothing is left.
  REQUIRE(create(*driver, dac(2)).result.ok());
  auto running = phases.wait_for("iota-dac-2", io::pod_phase::running);
  REQUIRE(running);
  pid_t pid2 = pid_of(running->status.detail);
  json st;
  REQUIRE(wait_status(
    dir.path() + "/2.json", [](const json&) { return true; }, st));
  auto stop_at = clock_type::now();
  driver->stop();
  CHECK(clock_type::now() - stop_at >= 1000ms);
  CHECK_FALSE(process_exists(pid2));
  CHECK(children_running(IOTA_INSTANCE_BIN).empty());
}

TEST_CASE("local driver: refusals and errors", "[local_driver]") {
  test::temp_dir dir("iota-local-driver");
  io::local_driver_settings settings;
  settings.log_dir = dir.path() + "/logs";
  settings.bin_dir = dir.path();  // no iota-instance here, nor (we assume) in $PATH
  auto driver = io::make_local_process_driver(settings);
  phase_log phases;
  driver->watch([&](io::pod_status s) { phases.add(std::move(s)); });

  SECTION("no template for the resource") {
    auto r = create(*driver, dac(0));
    CHECK(r.result.status == io::driver_result::code::error);
    CHECK(r.result.detail.find("no pod template") != std::string::npos);
    CHECK(r.thread != std::this_thread::get_id());
  }
  SECTION("an invalid template") {
    driver->add_template(resource, "iota-dac", "apiVersion: v1\nkind: Pod\n");
    auto r = create(*driver, dac(0));
    CHECK(r.result.status == io::driver_result::code::error);
    CHECK(r.result.detail.find("pod template") != std::string::npos);
  }
  SECTION("a command that is nowhere") {
    std::string text = iota_dac_template();
    auto pos = text.find("[\"iota-instance\"]");
    REQUIRE(pos != std::string::npos);
    text.replace(pos, 17, "[\"iota-no-such-command-4711\"]");
    driver->add_template(resource, "iota-dac", text);
    auto r = create(*driver, dac(0));
    CHECK(r.result.status == io::driver_result::code::error);
    CHECK(r.result.detail.find("command not found: iota-no-such-command-4711") !=
          std::string::npos);
  }
  SECTION("a command that cannot be executed") {
    std::string text = iota_dac_template();
    auto pos = text.find("[\"iota-instance\"]");
    REQUIRE(pos != std::string::npos);
    std::string script = dir.path() + "/not-a-program";
    {
      std::ofstream(script) << "\x7f"
                               "ELF garbage";
    }
    REQUIRE(::chmod(script.c_str(), 0755) == 0);
    text.replace(pos, 17, "[\"" + script + "\"]");
    driver->add_template(resource, "iota-dac", text);
    auto r = create(*driver, dac(0));
    CHECK(r.result.status == io::driver_result::code::error);
    CHECK(r.result.detail.find("exec ") != std::string::npos);
  }
  CHECK(get(*driver, dac(0)).phase == io::pod_phase::missing);
  CHECK(remove(*driver, dac(0)).result.status == io::driver_result::code::not_found);
  driver->stop();
  CHECK(phases.size() == 0);  // never started: nothing to report
  CHECK(children_running(IOTA_INSTANCE_BIN).empty());
}

TEST_CASE(
  "iota-instance: loads its share once it appears, follows _reload, hangs on request, "
  "exits 0 on SIGTERM",
  "[local_driver][worker]") {
  test::zookeeper_server zk;
  test::kafka_mock kafka;
  test::temp_dir dir("iota-instance");
  zk_client client(zk.hosts());
  auto start = [&](int id, std::vector<std::string> extra) {
    std::vector<std::string> argv{IOTA_INSTANCE_BIN, "--heartbeat", "500ms", "--status-file",
                                  dir.path() + "/{id}.json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<test::child_process>(
      argv,
      std::vector<std::pair<std::string, std::string>>{{"IOTA_INSTANCE_ID", std::to_string(id)},
                                                       {"IOTA_RESOURCE", "Thing"},
                                                       {"IOTA_ZOOKEEPER", zk.hosts()},
                                                       {"IOTA_KAFKA_BROKERS", kafka.bootstrap()}},
      dir.path() + "/" + std::to_string(id) + ".log");
  };
  auto status = [&](int id) { return dir.path() + "/" + std::to_string(id) + ".json"; };

  // No znodes yet: it serves nothing, and waits for them.
  auto witness = start(5, {});
  json st;
  INFO(test::file_tail(dir.path() + "/5.log"));
  REQUIRE(wait_status(
    status(5), [](const json& s) { return s["loads"] >= 1; }, st));
  CHECK(st["resources"] == 0);
  client.create_instance(5, ids_for(5, 3), 1);
  REQUIRE(wait_status(
    status(5), [](const json& s) { return s["resources"] == 3; }, st));
  CHECK(st["reloadTimes"] == 1);

  // A worker that hangs: no more heartbeats or reloads, still running.
  client.create_instance(6, ids_for(6, 2), 1);
  auto hung = start(6, {"--hang-after", "3"});
  REQUIRE(wait_status(
    status(6), [](const json& s) { return s["hung"] == true; }, st));
  CHECK(st["resources"] == 2);
  auto hung_beats = st["heartbeats"].get<int>();
  auto hung_loads = st["loads"].get<int>();
  CHECK(hung_beats >= 1);
  client.reassign(5, ids_for(5, 4), 2);
  client.reassign(6, ids_for(6, 4), 2);
  // The witness sees the change and beats on: time enough for the hung one to have reacted.
  REQUIRE(wait_status(
    status(5), [](const json& s) { return s["resources"] == 4; }, st));
  int beats = st["heartbeats"];
  REQUIRE(wait_status(
    status(5), [&](const json& s) { return s["heartbeats"] >= beats + 3; }, st));
  REQUIRE(read_status(status(6)));
  auto h = *read_status(status(6));
  CHECK(h["heartbeats"] == hung_beats);
  CHECK(h["loads"] == hung_loads);
  CHECK(h["resources"] == 2);
  CHECK(hung->running());

  // SIGTERM: clean exit 0, hung or not.
  for (auto* p : {witness.get(), hung.get()}) {
    p->stop(30s);
    CHECK(WIFEXITED(p->exit_status()));
    CHECK(WEXITSTATUS(p->exit_status()) == 0);
  }
}

TEST_CASE("iota-instance: re-reads its share after a new ZooKeeper session",
          "[local_driver][worker]") {
  test::zookeeper_server zk;
  test::temp_dir dir("iota-instance");
  zk_client client(zk.hosts());
  client.create_instance(7, ids_for(7, 2), 1);
  int baseline = -1;
  REQUIRE(
    test::wait_until([&] { return (baseline = alive_connections(zk.port())) > 0; }, deadline));

  test::child_process worker(
    {IOTA_INSTANCE_BIN, "--no-heartbeat", "--status-file", dir.path() + "/7.json"},
    {{"IOTA_INSTANCE_ID", "7"}, {"IOTA_RESOURCE", "Thing"}, {"IOTA_ZOOKEEPER", zk.hosts()}},
    dir.path() + "/7.log");
  INFO(test::file_tail(dir.path() + "/7.log"));
  json st;
  REQUIRE(wait_status(
    dir.path() + "/7.json", [](const json& s) { return s["loads"] >= 1; }, st));
  CHECK(st["resources"] == 2);
  REQUIRE(test::wait_until([&] { return alive_connections(zk.port()) == baseline + 1; }, deadline));

  // Frozen past its session timeout, the worker loses its session and its watch with it: a
  // change made now reaches it only through the re-read after the new session.
  REQUIRE(::kill(worker.pid(), SIGSTOP) == 0);
  bool expired =
    test::wait_until([&] { return alive_connections(zk.port()) == baseline; }, deadline);
  if (!expired)
    ::kill(worker.pid(), SIGCONT);
  REQUIRE(expired);
  client.reassign(7, ids_for(7, 6), 2);
  REQUIRE(::kill(worker.pid(), SIGCONT) == 0);
  REQUIRE(wait_status(
    dir.path() + "/7.json", [](const json& s) { return s["resources"] == 6; }, st));
  CHECK(st["reloadTimes"] == 2);
  CHECK(st["loads"] >= 2);
  worker.stop(30s);
  CHECK(WIFEXITED(worker.exit_status()));
  CHECK(WEXITSTATUS(worker.exit_status()) == 0);
}
