#pragma once
// Helpers shared by the benches: the ZooKeeper every bench starts (lean_zookeeper, also used by
// orchestrator_bench) and, for the out-of-process benches (broker_bench, heartbeat_bench), a lean
// mosquitto, a paced MQTT publisher pool, the daemon started on them, the daemon's /v1/api/stats,
// its peak RSS, reading the placed ids straight from ZooKeeper, the `sleep` pod templates, and
// main()'s flags and error handling. Header-only; each bench is one translation unit.
#include <MQTTAsync.h>
#ifndef THREADED
#define THREADED  // zoo_get / zoo_get_children: the synchronous API of libzookeeper_mt
#endif
#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <exception>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/zk_layout.hpp"
#include "tests/fixtures/daemon_process.hpp"
#include "tests/fixtures/ids.hpp"
#include "tests/fixtures/http_client.hpp"
#include "tests/fixtures/mosquitto_server.hpp"
#include "tests/fixtures/process.hpp"
#include "tests/fixtures/zookeeper_server.hpp"

namespace iota::bench {

using clock = std::chrono::steady_clock;
using nlohmann::json;

inline double ms_between(clock::time_point a, clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// mosquitto configured as the fixtures and scripts/demo do (no cap on queued or in-flight QoS 1
// messages, persistence on), but without the fixture's per-packet log, which would cost the
// broker more than the path under test.
class lean_broker {
 public:
  lean_broker() : dir_("iota-bench-mqtt"), port_(test::free_port()) {
    auto cfg = dir_.path() + "/mosquitto.conf";
    std::ofstream out{cfg};
    if (::geteuid() == 0)
      out << "user root\n";
    out << "listener " << port_ << " 127.0.0.1\n"
        << "allow_anonymous true\n"
        << "max_queued_messages 0\n"
        << "max_inflight_messages 0\n"
        << "persistence true\n"
        << "persistence_location " << dir_.path() << "/\n"
        << "log_dest file " << dir_.path() << "/mosquitto.log\n"
        << "log_type error\nlog_type warning\n";
    out.close();
    process_ = std::make_unique<test::child_process>(std::vector<std::string>{"mosquitto", "-c", cfg},
                                                     std::vector<std::pair<std::string, std::string>>{},
                                                     dir_.path() + "/out.log");
    if (!test::wait_until([&] { return test::tcp_connectable(port_); }, std::chrono::seconds{30}))
      throw std::runtime_error("mosquitto did not start: " + test::file_tail(dir_.path() + "/out.log"));
  }
  int port() const { return port_; }
  std::string url() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return process_->pid(); }

 private:
  test::temp_dir dir_;
  int port_;
  std::unique_ptr<test::child_process> process_;
};

// ZooKeeper as the fixture runs it (tests/fixtures/zookeeper_server.cpp), but with a 2 GB heap
// (the fixture has 1 GB): standalone ZooKeeper keeps its last 500 committed transactions in
// memory (zookeeper.commitLogCount), and with 400,000 resources a batched multi is up to ~1 MB
// (five full `resources` znodes), so a small heap runs out and the server exits
// (-XX:+ExitOnOutOfMemoryError makes that visible in its output). Every bench starts this one.
class lean_zookeeper {
 public:
  lean_zookeeper() : dir_("iota-bench-zk"), port_(test::free_port()) {
    auto cfg = dir_.path() + "/zoo.cfg";
    std::ofstream out{cfg};
    out << "tickTime=2000\ndataDir=" << dir_.path() << "/data\nclientPort=" << port_
        << "\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
        << "4lw.commands.whitelist=ruok,srvr,mntr,stat\nminSessionTimeout=1000\nmaxSessionTimeout=120000\n";
    out.close();
    process_ = std::make_unique<test::child_process>(
      std::vector<std::string>{"java", "-Xmx2g", "-XX:+ExitOnOutOfMemoryError", "-Dzookeeper.log.dir=" + dir_.path(),
                               "-cp", "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar",
                               "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg},
      std::vector<std::pair<std::string, std::string>>{}, dir_.path() + "/out.log", dir_.path());
    if (!test::wait_until([&] { return test::zookeeper_ruok(port_, std::chrono::seconds{2}); }, std::chrono::seconds{60}))
      throw std::runtime_error("ZooKeeper did not start: " + test::file_tail(dir_.path() + "/out.log"));
  }
  std::string hosts() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return process_->pid(); }
  bool running() { return process_->running(); }
  std::string output() const { return test::file_tail(dir_.path() + "/out.log", 1000); }

 private:
  test::temp_dir dir_;
  int port_;
  std::unique_ptr<test::child_process> process_;
};

// A pool of MQTTAsync publishers (clean session, QoS 1) fed by one pacing thread, round robin,
// so the global send order is the order of `send_times`. At most `window` publishes are
// unacknowledged at once (the publisher keeps just ahead of the broker instead of queueing the
// whole run in paho). rate == 0: as fast as the window allows.
class publisher_pool {
 public:
  publisher_pool(const std::string& url, std::size_t clients, std::size_t window = 2000)
      : window_(window) {
    std::string server = url;
    if (server.rfind("mqtt://", 0) == 0)
      server = "tcp://" + server.substr(7);
    for (std::size_t i = 0; i < clients; ++i) {
      MQTTAsync h = nullptr;
      auto id = "iota-bench-pub-" + std::to_string(::getpid()) + "-" + std::to_string(i);
      if (MQTTAsync_create(&h, server.c_str(), id.c_str(), MQTTCLIENT_PERSISTENCE_NONE, nullptr) !=
          MQTTASYNC_SUCCESS)
        throw std::runtime_error("MQTTAsync_create failed");
      handles_.push_back(h);
      MQTTAsync_connectOptions conn = MQTTAsync_connectOptions_initializer;
      conn.keepAliveInterval = 60;
      conn.cleansession = 1;
      conn.MQTTVersion = MQTTVERSION_3_1_1;
      conn.maxInflight = static_cast<int>(window);
      conn.connectTimeout = 10;
      conn.context = this;
      conn.onSuccess = [](void* ctx, MQTTAsync_successData*) {
        auto* p = static_cast<publisher_pool*>(ctx);
        std::lock_guard<std::mutex> g{p->m_};
        ++p->connected_;
        p->cv_.notify_all();
      };
      conn.onFailure = [](void* ctx, MQTTAsync_failureData*) {
        auto* p = static_cast<publisher_pool*>(ctx);
        std::lock_guard<std::mutex> g{p->m_};
        ++p->failed_;
        p->cv_.notify_all();
      };
      if (MQTTAsync_connect(h, &conn) != MQTTASYNC_SUCCESS)
        throw std::runtime_error("MQTTAsync_connect failed");
    }
    std::unique_lock<std::mutex> lk{m_};
    if (!cv_.wait_for(lk, std::chrono::seconds{30}, [&] { return connected_ + failed_ >= handles_.size(); }) ||
        failed_ > 0)
      throw std::runtime_error("publisher pool: connect failed");
  }
  ~publisher_pool() {
    for (auto h : handles_) {
      MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
      d.timeout = 1000;
      MQTTAsync_disconnect(h, &d);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{200});  // let DISCONNECT go out
    for (auto& h : handles_)
      MQTTAsync_destroy(&h);
  }

  // Publishes every payload in order; returns the send time of each. Blocks until every
  // publish is acknowledged by the broker.
  std::vector<clock::time_point> publish(const std::string& topic, const std::vector<std::string>& payloads,
                                         double rate) {
    std::vector<clock::time_point> sent(payloads.size());
    auto t0 = clock::now();
    for (std::size_t i = 0; i < payloads.size(); ++i) {
      if (rate > 0) {
        auto due = t0 + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(i / rate));
        std::this_thread::sleep_until(due);
      }
      {
        std::unique_lock<std::mutex> lk{m_};
        cv_.wait(lk, [&] { return in_flight_ < window_ || !failure_.empty(); });
        if (!failure_.empty())
          throw std::runtime_error(failure_);
        ++in_flight_;
      }
      MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
      ro.context = this;
      ro.onSuccess = [](void* ctx, MQTTAsync_successData*) {
        auto* p = static_cast<publisher_pool*>(ctx);
        std::lock_guard<std::mutex> g{p->m_};
        --p->in_flight_;
        ++p->acked_;
        p->cv_.notify_all();
      };
      ro.onFailure = [](void* ctx, MQTTAsync_failureData* d) {
        auto* p = static_cast<publisher_pool*>(ctx);
        std::lock_guard<std::mutex> g{p->m_};
        p->failure_ = "publish failed: " + std::to_string(d ? d->code : -1);
        p->cv_.notify_all();
      };
      MQTTAsync_message msg = MQTTAsync_message_initializer;
      msg.payload = const_cast<char*>(payloads[i].data());
      msg.payloadlen = static_cast<int>(payloads[i].size());
      msg.qos = 1;
      sent[i] = clock::now();
      int rc;
      while ((rc = MQTTAsync_sendMessage(handles_[i % handles_.size()], topic.c_str(), &msg, &ro)) ==
             MQTTASYNC_MAX_BUFFERED_MESSAGES)
        std::this_thread::sleep_for(std::chrono::milliseconds{1});
      if (rc != MQTTASYNC_SUCCESS)
        throw std::runtime_error("MQTTAsync_sendMessage: " + std::to_string(rc));
    }
    std::unique_lock<std::mutex> lk{m_};
    if (!cv_.wait_for(lk, std::chrono::minutes{10}, [&] { return in_flight_ == 0 || !failure_.empty(); }) ||
        !failure_.empty())
      throw std::runtime_error("publisher pool: not all publishes acknowledged " + failure_);
    return sent;
  }

 private:
  std::vector<MQTTAsync> handles_;
  std::size_t window_;
  std::mutex m_;
  std::condition_variable cv_;
  std::size_t connected_ = 0, failed_ = 0, in_flight_ = 0, acked_ = 0;
  std::string failure_;
};

// GET /v1/api/stats -> json ({} when no answer).
inline json fetch_stats(int http_port) {
  auto r = test::http_request(http_port, "GET", "/v1/api/stats", {}, {}, std::chrono::seconds{30});
  if (r.status != 200)
    return json::object();
  auto j = json::parse(r.body, nullptr, false);
  return j.is_discarded() ? json::object() : j;
}

// A counter of one actor (by exact name), or of every actor whose name starts with `prefix`
// (summed) when `prefix_match`.
inline std::int64_t counter(const json& stats, const std::string& actor, const std::string& name,
                            bool prefix_match = false) {
  std::int64_t sum = 0;
  if (!stats.contains("actors"))
    return 0;
  for (const auto& a : stats.at("actors")) {
    auto an = a.value("actor", std::string{});
    if (prefix_match ? an.rfind(actor, 0) != 0 : an != actor)
      continue;
    const auto& c = a.at("counters");
    if (c.contains(name))
      sum += c.at(name).get<std::int64_t>();
  }
  return sum;
}

// Sum of every counter whose name starts with `prefix` in actors starting with `actor`.
inline std::int64_t counters_with_prefix(const json& stats, const std::string& actor, const std::string& prefix) {
  std::int64_t sum = 0;
  if (!stats.contains("actors"))
    return 0;
  for (const auto& a : stats.at("actors")) {
    if (a.value("actor", std::string{}).rfind(actor, 0) != 0)
      continue;
    for (const auto& [k, v] : a.at("counters").items())
      if (k.rfind(prefix, 0) == 0)
        sum += v.get<std::int64_t>();
  }
  return sum;
}

// One line per actor: each handler's handled count and mean / max handling time, the mailbox
// depth, and the non-zero counters.
inline void print_actor_figures(const json& stats, const char* indent = "    ") {
  if (!stats.contains("actors"))
    return;
  for (const auto& a : stats.at("actors")) {
    std::ostringstream line;
    line << indent << a.value("actor", std::string{"?"}) << ": mailbox " << a.value("mailbox", 0);
    for (const auto& [k, h] : a.at("handlers").items()) {
      if (h.value("handled", 0) == 0)
        continue;
      char buf[160];
      std::snprintf(buf, sizeof buf, "; %s %llu x mean %.3f ms max %.1f ms", k.c_str(),
                    static_cast<unsigned long long>(h.value("handled", 0ull)), h.value("meanMs", 0.0),
                    h.value("maxMs", 0.0));
      line << buf;
    }
    bool first = true;
    for (const auto& [k, v] : a.at("counters").items()) {
      if (v.get<std::int64_t>() == 0)
        continue;
      line << (first ? "; counters " : ", ") << k << "=" << v.get<std::int64_t>();
      first = false;
    }
    std::printf("%s\n", line.str().c_str());
  }
}

// The PID of our child whose command line contains `needle` (e.g. its unique config path).
inline pid_t find_pid(const std::string& needle) {
  pid_t found = -1;
  if (auto* d = ::opendir("/proc")) {
    while (auto* e = ::readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9')
        continue;
      std::ifstream in{std::string{"/proc/"} + e->d_name + "/cmdline", std::ios::binary};
      std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::ifstream st{std::string{"/proc/"} + e->d_name + "/stat"};
      std::string stat((std::istreambuf_iterator<char>(st)), std::istreambuf_iterator<char>());
      auto rp = stat.rfind(')');
      long ppid = rp == std::string::npos ? 0 : std::strtol(stat.c_str() + rp + 4, nullptr, 10);
      if (ppid == ::getpid() && cmd.find(needle) != std::string::npos)
        found = static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10));
    }
    ::closedir(d);
  }
  return found;
}

// /proc/<pid>/status VmHWM (peak RSS) in MB, or -1.
// A /proc/<pid>/status figure in MB (VmHWM: peak RSS; VmRSS: now), -1 when unreadable.
inline double status_mb(pid_t pid, const std::string& key) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0)
      return std::strtod(line.c_str() + key.size() + 1, nullptr) / 1024.0;
  return -1;
}

inline double peak_rss_mb(pid_t pid) { return status_mb(pid, "VmHWM"); }

// CPU seconds (user + system) process `pid` has used so far (all its threads); 0 when gone.
inline double cpu_seconds(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream fields{text.substr(close + 2)};  // from field 3 (state) on
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i)
    if (i >= 14)  // utime, stime
      ticks += std::strtod(f.c_str(), nullptr);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// CPU seconds this process (the bench: its publishers, its poller) has used so far.
inline double own_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// A full instance's `resources` bytes (5,000 UUIDs, 195,001 bytes): what the daemon rewrites.
inline std::string full_instance_resources() { return model::encode_resources(test::uuids(5000, 77)); }

// A synchronous session to `hosts`, for the benches' own reads and writes (on their own
// threads), connected, and closed when it goes out of scope.
using zookeeper_session = std::unique_ptr<zhandle_t, int (*)(zhandle_t*)>;
inline zookeeper_session connect_zookeeper(const std::string& hosts) {
  zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
  zookeeper_session zh{zookeeper_init(hosts.c_str(), nullptr, 30000, nullptr, nullptr, 0), &zookeeper_close};
  if (!zh)
    throw std::runtime_error("zookeeper_init failed");
  if (!test::wait_until([&] { return zoo_state(zh.get()) == ZOO_CONNECTED_STATE; }, std::chrono::seconds{30}))
    throw std::runtime_error("cannot connect to ZooKeeper " + hosts);
  return zh;
}

// Warms a fresh ZooKeeper server before a measurement, as a production ensemble that has run
// for a while is: its JVM compiles the write path only after some use (a fresh server took
// the daemon's whole-instance rewrites at 27-42 MB/s, a warm one at 100-230 MB/s here). Writes
// `mb` MB of multis of five 195 KB setData (the daemon's pattern) under a path of its own, one
// at a time; returns the MB/s it saw.
inline double warm_zookeeper(const std::string& hosts, double mb = 100) {
  auto session = connect_zookeeper(hosts);
  auto* zh = session.get();
  const std::string root = "/iota-bench-warm-up";
  const auto data = full_instance_resources();
  zoo_create(zh, root.c_str(), "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
  std::vector<std::string> paths;
  for (int i = 0; i < 5; ++i) {
    paths.push_back(root + "/" + std::to_string(i));
    zoo_create(zh, paths.back().c_str(), "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
  }
  std::vector<zoo_op_t> ops(paths.size());
  std::vector<zoo_op_result_t> results(paths.size());
  auto rounds = static_cast<int>(mb * 1e6 / static_cast<double>(data.size() * paths.size())) + 1;
  auto t0 = clock::now();
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < paths.size(); ++i)
      zoo_set_op_init(&ops[i], paths[i].c_str(), data.data(), static_cast<int>(data.size()), -1, nullptr);
    if (zoo_multi(zh, static_cast<int>(ops.size()), ops.data(), results.data()) != ZOK)
      throw std::runtime_error("ZooKeeper warm-up: a multi failed");
  }
  auto secs = std::chrono::duration<double>(clock::now() - t0).count();
  return static_cast<double>(rounds) * static_cast<double>(data.size() * paths.size()) / 1e6 / secs;
}

// Every id placed under /iota/orchestration/<resource>/<n>/resources, read from ZooKeeper.
inline std::vector<std::string> zookeeper_placed_ids(const std::string& hosts, const std::string& resource) {
  auto session = connect_zookeeper(hosts);
  auto* zh = session.get();
  std::string root = "/iota/orchestration/" + resource;
  String_vector children{};
  if (zoo_get_children(zh, root.c_str(), 0, &children) != ZOK)
    throw std::runtime_error("cannot list " + root);
  std::vector<std::string> ids;
  std::vector<char> buf(4 * 1024 * 1024);
  for (int i = 0; i < children.count; ++i) {
    auto path = root + "/" + children.data[i] + "/resources";
    int len = static_cast<int>(buf.size());
    if (zoo_get(zh, path.c_str(), 0, buf.data(), &len, nullptr) != ZOK || len <= 0)
      continue;
    auto j = json::parse(std::string(buf.data(), static_cast<std::size_t>(len)), nullptr, false);
    if (j.is_discarded() || !j.contains("ids"))
      continue;
    for (const auto& id : j.at("ids"))
      ids.push_back(id.get<std::string>());
  }
  deallocate_String_vector(&children);
  return ids;
}

// The daemon's options for one bench run against this ZooKeeper and broker.
inline test::daemon_options daemon_options_for(const lean_zookeeper& zk, const lean_broker& broker,
                                               const std::string& client_id, std::size_t batch) {
  test::daemon_options d;
  d.zookeeper = zk.hosts();
  d.mqtt_url = broker.url();
  d.client_id = client_id;
  d.batch_size = batch;
  return d;
}

// Starts the daemon (returns once its broker subscription is up) and gives its PID, -1 if it
// was not found (for peak_rss_mb).
inline pid_t start_daemon(test::daemon_process& daemon) {
  daemon.start();
  return find_pid(daemon.config_file());
}

// A pod template whose container is `sleep 100000` (so the machine's cores go to the daemon,
// not to workers), with IOTA_RESOURCE=<resource> in its env unless `resource` is empty.
inline std::string sleeper_template(const std::string& name, const std::string& resource = {}) {
  std::string text =
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "-0\n  labels:\n    instanceId: \"0\"\n"
    "spec:\n  containers:\n    - name: " + name + "\n      command: [\"sleep\"]\n      args: [\"100000\"]\n"
    "      env:\n        - name: IOTA_INSTANCE_ID\n          value: \"0\"\n";
  if (!resource.empty())
    text += "        - name: IOTA_RESOURCE\n          value: \"" + resource + "\"\n";
  return text;
}

// Writes `<templates_dir>/<name>/pod-template.yml`.
inline void write_pod_template(const std::string& templates_dir, const std::string& name, const std::string& text) {
  auto dir = templates_dir + "/" + name;
  ::mkdir(dir.c_str(), 0755);
  std::ofstream{dir + "/pod-template.yml"} << text;
}

// The first line of /proc/loadavg, for the figures' heading.
inline std::string load_average() {
  std::ifstream in{"/proc/loadavg"};
  std::string s;
  std::getline(in, s);
  return s;
}

// `--name value` pairs into the options they name; false (after saying so on stderr) on an
// unknown name.
using flag_target = std::variant<std::size_t*, double*>;
inline bool parse_flags(int argc, char** argv, const char* program, const std::map<std::string, flag_target>& flags) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    std::string v = argv[i + 1];
    auto f = flags.find(k);
    if (f == flags.end()) {
      std::fprintf(stderr, "%s: unknown option %s\n", program, k.c_str());
      return false;
    }
    if (auto* size = std::get_if<std::size_t*>(&f->second))
      **size = std::stoull(v);
    else
      *std::get<double*>(f->second) = std::stod(v);
  }
  return true;
}

// main()'s body with stdout line-buffered; an exception is printed as "<program>: <what>" and
// exits 1.
inline int run_bench(const char* program, const std::function<void()>& body) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
  return 0;
}

inline double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(k, v.size() - 1)];
}

}  // namespace iota::bench
