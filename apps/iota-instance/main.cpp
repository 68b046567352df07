// iota-instance: the reference worker (shared/SPEC.md section 12). It stands in for the
// platform's workers (DAC, rules engine): reads its share from ZooKeeper
// (`/iota/orchestration/<R>/<id>/resources`), re-reads it on every change of `_reload`, and
// heart-beats on Kafka topic `HeartBeat`. Flags let tests make it stop heart-beating, exit or
// hang, to drive the orchestrator's liveness paths; SIGUSR1 silences it at run time.
//
// Threads: the main thread runs the schedule (loads, heartbeats, --exit-after, --hang-after,
// the status file); ZooKeeper callbacks only record results and wake it; one thread waits for
// SIGINT/SIGTERM/SIGUSR1. Loads are started from the main thread only, one at a time.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "io/files.hpp"
#include "io/kafka_consumer.hpp"
#include "io/kafka_producer.hpp"
#include "io/log.hpp"
#include "io/zookeeper_store.hpp"
#include "model/duration.hpp"
#include "model/zk_layout.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace io = iota::io;
namespace model = iota::model;

constexpr const char* usage_text =
  "usage: iota-instance [options]\n"
  "\n"
  "The reference iOTA worker: serves the resources ZooKeeper assigns to its instance and\n"
  "heart-beats on Kafka. Its instance id is the environment variable IOTA_INSTANCE_ID (the\n"
  "first env var of the pod template, set per instance by the orchestrator).\n"
  "\n"
  "  --instance-id ID          instead of IOTA_INSTANCE_ID\n"
  "  --resource R              resource type, e.g. Thing (env IOTA_RESOURCE; required)\n"
  "  --zookeeper HOSTS         host:port[,...] (env IOTA_ZOOKEEPER; default localhost:2181)\n"
  "  --kafka-brokers HOSTS     host:port[,...] (env IOTA_KAFKA_BROKERS; default localhost:9092)\n"
  "  --heartbeat SECONDS       heartbeat period (env IOTA_HEARTBEAT; default 30); SECONDS may\n"
  "                            be fractional or a duration such as 500ms\n"
  "  --no-heartbeat            never heart-beat\n"
  "  --exit-after SECONDS CODE exit with CODE after SECONDS\n"
  "  --hang-after SECONDS      after SECONDS stop heart-beating and reloading, keep running\n"
  "  --ignore-sigterm          ignore SIGTERM (to test a driver's SIGKILL escalation)\n"
  "  --status-file PATH        keep one JSON line with what is served in PATH, rewritten\n"
  "                            atomically on every change; {id} and {resource} in PATH are\n"
  "                            replaced by the instance id and the resource\n"
  "  --log-level LEVEL         trace|debug|info|warn|error (env IOTA_LOG_LEVEL; default info)\n"
  "  --help                    this text\n"
  "\n"
  "Flags override environment variables. SIGINT or SIGTERM: clean exit 0. SIGUSR1: go\n"
  "silent for good: no more heartbeats, but keep serving and reloading (a worker whose\n"
  "heartbeats are lost; the status file then says \"silent\":true).\n";

// zookeeper.h's ZOO_SESSION_EVENT: the watch ended without a node event.
constexpr int zoo_session_event = -1;
// After a failed load (connection loss, ...), when connected, try again this much later.
constexpr auto load_retry_delay = 1s;

struct options {
  std::string instance_id;
  std::string resource;
  std::string zookeeper = "localhost:2181";
  std::string kafka_brokers = "localhost:9092";
  std::chrono::milliseconds heartbeat{30000};
  bool heartbeats = true;
  std::optional<std::chrono::milliseconds> exit_after;
  int exit_code = 0;
  std::optional<std::chrono::milliseconds> hang_after;
  bool ignore_sigterm = false;
  std::string status_file;
  std::string log_level = "info";
};

// "30", "0.5", or a duration ("500ms", "2s"). nullopt when negative or malformed.
std::optional<std::chrono::milliseconds> parse_seconds(const std::string& text) {
  if (auto d = model::parse_duration(text))
    return d;
  if (text.empty())
    return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double s = std::strtod(text.c_str(), &end);
  if (errno != 0 || end == text.c_str() || *end != '\0' || !std::isfinite(s) || s < 0 || s > 1e9)
    return std::nullopt;
  return std::chrono::milliseconds{static_cast<std::int64_t>(std::llround(s * 1000))};
}

std::optional<int> parse_int(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text.c_str(), &end, 10);
  if (errno != 0 || text.empty() || *end != '\0' || v < -2147483647 || v > 2147483647)
    return std::nullopt;
  return static_cast<int>(v);
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

void replace_all(std::string& s, const std::string& what, const std::string& with) {
  for (auto pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + with.size()))
    s.replace(pos, what.size(), with);
}

// 0: run; 1: --help printed; 2: usage error printed.
int parse(int argc, char** argv, options& o) {
  auto fail = [](const std::string& text) {
    std::fprintf(stderr, "iota-instance: %s\n\n%s", text.c_str(), usage_text);
    return 2;
  };
  o.instance_id = env_or("IOTA_INSTANCE_ID", "");
  o.resource = env_or("IOTA_RESOURCE", "");
  o.zookeeper = env_or("IOTA_ZOOKEEPER", o.zookeeper);
  o.kafka_brokers = env_or("IOTA_KAFKA_BROKERS", o.kafka_brokers);
  o.log_level = env_or("IOTA_LOG_LEVEL", o.log_level);
  if (auto hb = env_or("IOTA_HEARTBEAT", ""); !hb.empty()) {
    auto d = parse_seconds(hb);
    if (!d || d->count() == 0)
      return fail("IOTA_HEARTBEAT: expected a positive number of seconds, got '" + hb + "'");
    o.heartbeat = *d;
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc)
        return false;
      out = argv[++i];
      return true;
    };
    std::string v;
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage_text, stdout);
      return 1;
    } else if (arg == "--no-heartbeat") {
      o.heartbeats = false;
    } else if (arg == "--ignore-sigterm") {
      o.ignore_sigterm = true;
    } else if (arg == "--instance-id" || arg == "--resource" || arg == "--zookeeper" ||
               arg == "--kafka-brokers" || arg == "--status-file" || arg == "--log-level" ||
               arg == "--heartbeat" || arg == "--hang-after") {
      if (!value(v))
        return fail(arg + " needs a value");
      if (arg == "--instance-id")
        o.instance_id = v;
      else if (arg == "--resource")
        o.resource = v;
      else if (arg == "--zookeeper")
        o.zookeeper = v;
      else if (arg == "--kafka-brokers")
        o.kafka_brokers = v;
      else if (arg == "--status-file")
        o.status_file = v;
      else if (arg == "--log-level")
        o.log_level = v;
      else {
        auto d = parse_seconds(v);
        if (!d || (arg == "--heartbeat" && d->count() == 0))
          return fail(arg + ": expected a " + (arg == "--heartbeat" ? "positive" : "non-negative") +
                      " number of seconds, got '" + v + "'");
        (arg == "--heartbeat" ? o.heartbeat : o.hang_after.emplace()) = *d;
      }
    } else if (arg == "--exit-after") {
      std::string code;
      if (!value(v) || !value(code))
        return fail("--exit-after needs SECONDS and CODE");
      auto d = parse_seconds(v);
      auto c = parse_int(code);
      if (!d)
        return fail("--exit-after: expected a number of seconds, got '" + v + "'");
      if (!c || *c < 0 || *c > 255)
        return fail("--exit-after: expected an exit code 0..255, got '" + code + "'");
      o.exit_after = *d;
      o.exit_code = *c;
    } else {
      return fail("unknown argument '" + arg + "'");
    }
  }
  if (o.instance_id.empty())
    return fail("no instance id: set IOTA_INSTANCE_ID (or --instance-id)");
  if (!model::parse_instance_name(o.instance_id))
    return fail("instance id must be a non-negative integer, got '" + o.instance_id + "'");
  if (o.resource.empty())
    return fail("no resource: set IOTA_RESOURCE (or --resource)");
  if (!iota::log::set_level(o.log_level))
    return fail("unknown log level '" + o.log_level + "'");
  replace_all(o.status_file, "{id}", o.instance_id);
  replace_all(o.status_file, "{resource}", o.resource);
  return 0;
}


std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

// One read of `_reload` (arming its watch) and `resources`; the three calls complete on the
// store's threads in any order, the last one hands the result over.
struct load_ctx {
  std::uint64_t gen = 0;
  std::mutex mu;
  int pending = 3;
  std::string failure;  // a transient error: retry
  std::string problem;  // the znodes are there but unreadable: wait for the next change
  std::int64_t times = 0;
  bool have_resources = false;
  std::vector<std::string> ids;
};

class worker {
 public:
  explicit worker(options o)
      : o_(std::move(o)),
        component_("iota-instance[" + o_.resource + "/" + o_.instance_id + "]"),
        root_(model::resource_path(o_.resource)),
        id_(*model::parse_instance_name(o_.instance_id)),
        reload_path_(model::reload_path(root_, id_)),
        resources_path_(model::resources_path(root_, id_)) {}

  // SIGUSR1 (from the signal thread): no more heartbeats; loads go on.
  void silence() {
    std::lock_guard lk(mu_);
    if (silent_)
      return;
    silent_ = true;
    status_dirty_ = true;
    iota::log::warn(component_, "silenced (SIGUSR1): no more heartbeats, still serving");
    cv_.notify_all();
  }

  // SIGINT/SIGTERM (from the signal thread).
  void request_stop() {
    std::lock_guard lk(mu_);
    stop_ = true;
    cv_.notify_all();
  }

  int run() {
    auto start = clock_type::now();
    iota::log::info(component_, "starting: zookeeper " + o_.zookeeper + ", kafka " +
                                  (o_.heartbeats ? o_.kafka_brokers + ", heartbeat every " +
                                                     model::format_duration(o_.heartbeat)
                                                 : std::string("off (--no-heartbeat)")));
    if (o_.heartbeats) {
      try {
        producer_ = io::make_kafka_producer(o_.kafka_brokers);
      } catch (const std::exception& e) {
        iota::log::error(component_, e.what());
        return 1;
      }
    }
    store_ = io::make_zookeeper_store(o_.zookeeper);
    store_->add_session_listener(
      [this](io::session_state s, std::int64_t id) { on_session(s, id); });
    store_->start();

    auto next_heartbeat = start;
    std::optional<clock_type::time_point> exit_at, hang_at;
    if (o_.exit_after)
      exit_at = start + *o_.exit_after;
    if (o_.hang_after)
      hang_at = start + *o_.hang_after;
    int code = 0;
    std::unique_lock lk(mu_);
    status_dirty_ = true;
    for (;;) {
      auto now = clock_type::now();
      if (stop_) {
        iota::log::info(component_, "stopping on signal");
        break;
      }
      if (exit_at && now >= *exit_at) {
        iota::log::info(component_,
                        "exiting with code " + std::to_string(o_.exit_code) + " (--exit-after)");
        code = o_.exit_code;
        break;
      }
      if (hang_at && now >= *hang_at && !hung_) {
        hung_ = true;
        status_dirty_ = true;
        iota::log::warn(component_, "hanging (--hang-after): no more heartbeats or reloads");
      }
      if (!hung_ && load_wanted_ && !load_in_flight_ && connected_ && now >= retry_at_)
        start_load(lk);
      if (!hung_ && !silent_ && producer_ && now >= next_heartbeat) {
        send_heartbeat(lk);
        next_heartbeat += o_.heartbeat;
        if (next_heartbeat <= now)  // fell behind (suspended): no burst of catch-up beats
          next_heartbeat = now + o_.heartbeat;
      }
      if (status_dirty_ && !o_.status_file.empty()) {
        status_dirty_ = false;
        std::string line = status_line() + "\n";
        lk.unlock();
        if (!io::write_file_atomically(o_.status_file, line))
          iota::log::warn(
            component_, "cannot write status file " + o_.status_file + ": " + std::strerror(errno));
        lk.lock();
        continue;  // state may have changed meanwhile
      }
      auto wake = clock_type::time_point::max();
      if (exit_at)
        wake = std::min(wake, *exit_at);
      if (hang_at && !hung_)
        wake = std::min(wake, *hang_at);
      if (!hung_ && !silent_ && producer_)
        wake = std::min(wake, next_heartbeat);
      if (!hung_ && load_wanted_ && !load_in_flight_ && connected_)
        wake = std::min(wake, retry_at_);
      if (wake == clock_type::time_point::max())
        cv_.wait(lk);
      else
        cv_.wait_until(lk, wake);
    }
    lk.unlock();
    // No callback holds mu_ across a store call, so stopping here cannot deadlock.
    store_->stop();
    if (producer_) {
      if (int left = producer_->flush(1000); left > 0)
        iota::log::warn(component_, std::to_string(left) + " heartbeat(s) not delivered");
      producer_.reset();
    }
    return code;
  }

 private:
  void on_session(io::session_state state, std::int64_t session_id) {
    std::lock_guard lk(mu_);
    connected_ = state == io::session_state::connected;
    if (!connected_)
      return;
    // A new session lost its predecessor's watches, and changes may have happened meanwhile;
    // a reconnect within the same session keeps the watch, so nothing to do then.
    if (session_id != loaded_session_ || load_wanted_) {
      load_wanted_ = true;
      retry_at_ = clock_type::now();
    }
    cv_.notify_all();
  }

  // Main thread, with mu_ held (released around the store calls: their errors may complete
  // on this thread).
  void start_load(std::unique_lock<std::mutex>& lk) {
    load_wanted_ = false;
    load_in_flight_ = true;
    loaded_session_ = store_->session_id();
    auto ctx = std::make_shared<load_ctx>();
    ctx->gen = ++load_gen_;
    lk.unlock();
    // The watch first: a change after it is seen by the watch, one before it by the reads.
    store_->watch(
      reload_path_,
      [this, ctx](io::zk_rc rc, bool) {
        std::lock_guard clk(ctx->mu);
        if (rc != io::zk_ok)
          ctx->failure = "watch " + reload_path_ + ": " + io::zk_error_text(rc);
        finish_part(*ctx);
      },
      [this](int event) { on_reload_event(event); });
    store_->get(reload_path_, [this, ctx](io::zk_rc rc, std::string data, std::int32_t) {
      std::lock_guard clk(ctx->mu);
      if (rc == io::zk_ok) {
        if (auto t = model::decode_reload(data))
          ctx->times = *t;
        else
          ctx->problem = reload_path_ + " holds no reload times: '" + data + "'";
      } else if (rc != io::zk_no_node) {
        ctx->failure = "get " + reload_path_ + ": " + io::zk_error_text(rc);
      }
      finish_part(*ctx);
    });
    store_->get(resources_path_, [this, ctx](io::zk_rc rc, std::string data, std::int32_t) {
      std::lock_guard clk(ctx->mu);
      if (rc == io::zk_ok) {
        if (auto ids = model::decode_resources(data)) {
          ctx->ids = std::move(*ids);
          ctx->have_resources = true;
        } else {
          ctx->problem = resources_path_ + " holds no id list: '" + data.substr(0, 200) + "'";
        }
      } else if (rc != io::zk_no_node) {
        ctx->failure = "get " + resources_path_ + ": " + io::zk_error_text(rc);
      }
      finish_part(*ctx);
    });
    lk.lock();
  }

  // Any store thread, with ctx.mu held.
  void finish_part(load_ctx& ctx) {
    if (--ctx.pending > 0)
      return;
    std::lock_guard lk(mu_);
    if (ctx.gen != load_gen_)
      return;
    load_in_flight_ = false;
    cv_.notify_all();
    if (hung_)
      return;
    if (!ctx.failure.empty()) {
      iota::log::warn(component_, "load failed, retrying: " + ctx.failure);
      load_wanted_ = true;
      retry_at_ = clock_type::now() + load_retry_delay;
      return;
    }
    if (!ctx.problem.empty()) {
      // Retrying would read the same bytes: the next change (the watch is set) brings a fix.
      iota::log::error(component_, "cannot load: " + ctx.problem);
      return;
    }
    if (!ctx.have_resources)
      iota::log::info(component_, resources_path_ + " does not exist (yet)");
    ids_ = std::move(ctx.ids);
    reload_times_ = ctx.times;
    ++loads_;
    status_dirty_ = true;
    iota::log::info(component_, "serving " + std::to_string(ids_.size()) +
                                  " resources (reload times " + std::to_string(reload_times_) +
                                  ")");
  }

  // The one-shot `_reload` watch fired (a store thread).
  void on_reload_event(int event) {
    std::lock_guard lk(mu_);
    if (hung_)
      return;
    load_wanted_ = true;
    // A session event means the watch ended without a change (session gone, or it could not
    // be set): the next session's `connected` asks for a load at once; otherwise retry soon.
    retry_at_ =
      event == zoo_session_event ? clock_type::now() + load_retry_delay : clock_type::now();
    cv_.notify_all();
  }

  void send_heartbeat(std::unique_lock<std::mutex>& lk) {
    std::string value = "{\"resource\":";
    model::append_json_string(value, o_.resource);
    value += ",\"instanceId\":";
    model::append_json_string(value, o_.instance_id);
    value +=
      ",\"resources\":" + std::to_string(ids_.size()) + ",\"ts\":" + std::to_string(now_ms()) + "}";
    lk.unlock();
    bool queued = producer_->produce("HeartBeat", value);
    lk.lock();
    if (queued) {
      ++heartbeats_;
      status_dirty_ = true;
      iota::log::debug(component_, "heartbeat " + value);
    } else {
      iota::log::warn(component_, "heartbeat not queued (local queue full)");
    }
  }

  std::string status_line() const {
    nlohmann::json j = {{"resource", o_.resource},
                        {"instanceId", o_.instance_id},
                        {"pid", ::getpid()},
                        {"resources", ids_.size()},
                        {"reloadTimes", reload_times_},
                        {"loads", loads_},
                        {"heartbeats", heartbeats_},
                        {"hung", hung_},
                        {"silent", silent_},
                        {"ids", ids_}};
    return j.dump();
  }

  const options o_;
  const std::string component_;
  const std::string root_;
  const model::instance_id id_;
  const std::string reload_path_;
  const std::string resources_path_;
  std::shared_ptr<io::zookeeper_store> store_;
  std::unique_ptr<io::kafka_producer> producer_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool hung_ = false;
  bool silent_ = false;
  bool connected_ = false;
  bool load_wanted_ = false;
  bool load_in_flight_ = false;
  std::uint64_t load_gen_ = 0;
  std::int64_t loaded_session_ = 0;  // the session of the last load started
  clock_type::time_point retry_at_{};
  std::vector<std::string> ids_;
  std::int64_t reload_times_ = 0;
  std::uint64_t loads_ = 0;
  std::uint64_t heartbeats_ = 0;
  bool status_dirty_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  options opts;
  if (int r = parse(argc, argv, opts); r != 0)
    return r == 1 ? 0 : 2;

  // Block the stop signals (and SIGUSR1) before any thread starts (threads inherit the mask),
  // so that only the signal thread below ever receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGUSR1);
  if (opts.ignore_sigterm)
    std::signal(SIGTERM, SIG_IGN);
  else
    sigaddset(&stop_signals, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr) != 0) {
    std::fputs("iota-instance: cannot block signals\n", stderr);
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);

  worker w(std::move(opts));
  std::atomic<bool> exiting{false};
  std::thread signal_thread([&w, &exiting, stop_signals] {
    for (;;) {
      int sig = 0;
      if (sigwait(&stop_signals, &sig) != 0)
        continue;
      if (sig == SIGUSR1 && !exiting.load()) {
        w.silence();
        continue;
      }
      if (sig != SIGUSR1)
        break;
    }
    if (!exiting.load())
      w.request_stop();
  });
  int code = w.run();
  // Wake the signal thread (if no signal did) so that it ends before `w` does.
  exiting = true;
  pthread_kill(signal_thread.native_handle(), SIGINT);
  signal_thread.join();
  return code;
}
