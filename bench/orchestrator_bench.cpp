// In-process bench: events sent straight to a resource_orchestrator backed by a real
// ZooKeeper server (the engine and ZooKeeper, no broker). Runs the seed's one-multi-per-event
// baseline (batchSize 1) and the batched mode on the same machine in one run and prints both,
// with their ratio. `--help` tells the options; bench/README.md the scenarios and figures.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/resource_orchestrator.hpp"
#include "actors/scheduler.hpp"
#include "io/inventory.hpp"
#include "io/log.hpp"
#include "io/zookeeper_store.hpp"
#include "messages/errors.hpp"
#include "fakes/fake_zookeeper_store.hpp"
#include "tests/fixtures/ids.hpp"
#include "tests/fixtures/process.hpp"
#include "tests/fixtures/zookeeper_server.hpp"
#include "bench/bench_support.hpp"

using namespace iota;
using namespace std::chrono;

namespace {

constexpr const char* usage_text =
  R"(usage: orchestrator_bench [--scenario NAME] [options]

Sends resource events straight to a resource_orchestrator actor backed by a real ZooKeeper
(started on a free loopback port unless --zk is given), in the batched mode and in the seed's
baseline mode (batchSize 1: one multi-op per event), and prints both and their ratio.

scenarios (--scenario):
  standard          orchestrate 400,000 UUIDs at resourcePerInstance 5000 (81 full-size
                    instances, ~195 KB each), then 100,000 events (60% create, 40% delete of
                    random placed ids); baseline 2,000 events. Ends with the line
                    "bench: batched <N> ev/s, baseline <M> ev/s, ratio <R>, p99 <P> ms, lost <L>"
  events-10k        the same preload, 10,000 / 100,000 / 500,000 events
  events-100k
  events-500k
  orchestrate-100k  time until an orchestrate of 100,000 / 495,000 UUIDs is durable
  orchestrate-495k  (495,000 = 99 x 5,000: 100 instances)
  custom            (default) as set by the options below: 20,000 events, no preload

With a preload it then measures ZooKeeper alone: the MB/s it takes of the same whole-instance
rewrites from one session, and what that predicts for a batch that rewrites every instance.

options (override the scenario's values):
  --events N           events of the batched mode
  --baseline-events N  events of the baseline mode (default min(events, 2000) with a
                       preload, else min(events, 5000))
  --preload N          UUIDs orchestrated before the events
  --batch-size N       the batched mode's orchestrator.batchSize (default: the daemon's, 1000000)
  --zk HOSTS           use this ZooKeeper instead of starting one
  --seed N             random seed (default 1)
  --help               this text
)";

struct options {
  std::string scenario = "custom";
  std::size_t events = 20000;
  std::size_t baseline_events = 0;  // 0 = derived
  std::size_t preload = 0;
  std::size_t batch_size = actors::orchestrator_settings{}.batch_size;  // the daemon's default
  bool orchestrate_only = false;
  std::string zk;
  std::uint64_t seed = 1;
};

struct figures {
  std::size_t events = 0;
  double events_per_s = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  std::size_t lost = 0;
  std::size_t orchestrated = 0, instances = 0;
  double orchestrate_s = 0;
  std::int64_t orchestrate_multis = 0;
  double preload_handler_ns = 0;  // the orchestrator's handler time before the events
  msg::actor_stats stats;  // the orchestrator's, after the events
  long rss_kb = 0;         // VmRSS after the run
};

struct latency_log {
  std::mutex m;
  std::vector<double> ms;
  std::atomic<std::size_t> acks{0}, errors{0};
};

long status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  auto n = std::strlen(key);
  while (std::getline(in, line))
    if (line.compare(0, n, key) == 0)
      return std::atol(line.c_str() + n + 1);
  return 0;
}

long peak_rss_kb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return std::max(ru.ru_maxrss, status_kb("VmHWM"));
}

std::int64_t counter(const msg::actor_stats& st, const std::string& name) {
  for (auto& [k, v] : st.counters)
    if (k == name)
      return v;
  return 0;
}

msg::actor_stats stats_of(caf::scoped_actor& self, const msg::orchestrator_actor& orch) {
  msg::actor_stats out;
  self->request(orch, seconds(60), msg::stats_atom::value)
    .receive([&](msg::actor_stats& st) { out = std::move(st); }, [](caf::error&) {});
  return out;
}

figures run(caf::actor_system& sys, const std::string& hosts, const std::string& resource,
            std::size_t batch, std::size_t multi_budget, std::size_t preload, std::size_t events,
            std::uint64_t seed) {
  figures f;
  f.events = events;
  std::mt19937_64 rng{seed};
  auto placed = test::uuids(preload, rng());
  auto store = io::make_zookeeper_store(hosts);
  actors::orchestrator_settings s;
  s.resource = resource;
  s.batch_size = batch;
  s.multi_budget = multi_budget;
  s.max_queued_events = std::max<std::size_t>(s.max_queued_events, events + 1);
  auto inventory = std::make_shared<test::fixed_inventory>();
  inventory->ids = placed;
  auto orch = actors::spawn_resource_orchestrator(sys, s, store, inventory);
  store->start();
  caf::scoped_actor self{sys};
  if (preload > 0) {
    auto t0 = steady_clock::now();
    self->request(orch, seconds(600), msg::orchestrate_atom::value,
                  model::orchestrate_request{model::resource_options{10, 100, 5000}, false})
      .receive(
        [&](model::orchestration_status& st) {
          f.orchestrate_s = duration<double>(steady_clock::now() - t0).count();
          f.orchestrated = st.resources;
          f.instances = st.instances.size();
        },
        [&](caf::error& e) {
          std::fprintf(stderr, "orchestrate of %s failed: %s\n", resource.c_str(),
                       msg::refusal_text(e).c_str());
        });
    auto st = stats_of(self, orch);
    f.orchestrate_multis = counter(st, "multis_committed");
    for (auto& h : st.handlers)
      f.preload_handler_ns += static_cast<double>(h.total_ns);
  }
  inventory->ids.clear();
  inventory->ids.shrink_to_fit();
  // 60% creates of new ids, 40% deletes of random placed ids.
  std::vector<msg::resource_event> evs;
  evs.reserve(events);
  {
    auto fresh = test::uuids(events, rng());
    std::vector<std::string> live = std::move(placed);
    for (std::size_t i = 0; i < events; ++i) {
      if (live.empty() || rng() % 10 < 6) {
        evs.push_back({model::action_kind::create, {fresh[i]}});
        live.push_back(fresh[i]);
      } else {
        auto k = rng() % live.size();
        evs.push_back({model::action_kind::destroy, {live[k]}});
        live[k] = std::move(live.back());
        live.pop_back();
      }
    }
  }
  auto log = std::make_shared<latency_log>();
  log->ms.reserve(events);
  // As the MQTT bridge does: the events that arrived together go in one message (here in
  // chunks of `per_message`; the seed's baseline sends one message per event).
  auto client = sys.spawn([log](caf::event_based_actor* c) -> caf::behavior {
    return {[=](msg::apply_atom, const msg::orchestrator_actor& target, msg::event_batch& evs) {
      auto t0 = steady_clock::now();
      auto n = evs->size();
      c->request(target, caf::infinite, msg::apply_atom::value, std::move(evs))
        .then(
          [log, t0, n](msg::event_ack&) {
            auto d = duration<double, std::milli>(steady_clock::now() - t0).count();
            std::lock_guard<std::mutex> g{log->m};
            log->ms.insert(log->ms.end(), n, d);
            log->acks += n;
          },
          [log, n](caf::error&) { log->errors += n; });
    }};
  });
  auto t0 = steady_clock::now();
  auto per_message = batch <= 1 ? std::size_t{1} : std::size_t{1000};
  for (std::size_t i = 0; i < evs.size(); i += per_message) {
    auto chunk = std::make_shared<std::vector<msg::resource_event>>(
      std::make_move_iterator(evs.begin() + static_cast<std::ptrdiff_t>(i)),
      std::make_move_iterator(evs.begin() + static_cast<std::ptrdiff_t>(std::min(evs.size(), i + per_message))));
    caf::anon_send(client, msg::apply_atom::value, orch, msg::event_batch{std::move(chunk)});
  }
  evs.clear();
  evs.shrink_to_fit();
  test::wait_until([&] { return log->acks + log->errors >= events; }, minutes(60));
  auto elapsed = duration<double>(steady_clock::now() - t0).count();
  f.events_per_s = events > 0 ? events / elapsed : 0;
  f.lost = events - log->acks;
  {
    std::lock_guard<std::mutex> g{log->m};
    std::sort(log->ms.begin(), log->ms.end());
    if (!log->ms.empty()) {
      f.p50_ms = log->ms[log->ms.size() / 2];
      f.p99_ms = log->ms[std::min(log->ms.size() - 1, log->ms.size() * 99 / 100)];
      f.max_ms = log->ms.back();
    }
  }
  f.stats = stats_of(self, orch);
  caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(orch, caf::exit_reason::user_shutdown);
  store->stop();
  f.rss_kb = status_kb("VmRSS");
  return f;
}

// Calls `start(done)` `n` times and waits until every `done` ran, or 10 minutes.
template <class Start>
bool run_all(std::size_t n, Start start) {
  std::mutex m;
  std::condition_variable cv;
  std::size_t left = n;
  bool ok = true;
  for (std::size_t i = 0; i < n; ++i)
    start(i, [&](io::zk_rc rc) {
      std::lock_guard<std::mutex> g{m};
      ok = ok && rc == io::zk_ok;
      if (--left == 0)
        cv.notify_all();
    });
  std::unique_lock<std::mutex> lk{m};
  return cv.wait_for(lk, minutes{10}, [&] { return left == 0; }) && ok;
}

// ZooKeeper alone: the daemon's write pattern without the daemon, on the same server: `rounds`
// rewrites of `instances` znodes holding a full instance's `resources` (5,000 UUIDs, 195,001
// bytes), five to a multi, all pipelined on one session, as a batch that touches every
// instance writes them. Its rate B bounds the engine: such a batch takes bytes / B to become
// durable, so an event waits about twice that at worst (SPEC's layout rewrites whole instances).
double zookeeper_alone_mb_s(const std::string& hosts, std::size_t instances, std::size_t rounds) {
  auto store = io::make_zookeeper_store(hosts);
  store->start();
  for (int i = 0; i < 300 && !store->connected(); ++i)
    std::this_thread::sleep_for(milliseconds{100});  // a plain thread, not an actor
  const std::string root = "/iota-bench-zookeeper-alone/i";
  const auto data = bench::full_instance_resources();
  if (!run_all(instances, [&](std::size_t i, auto done) {
        store->ensure_path(root + std::to_string(i), done);
      }))
    throw std::runtime_error("ZooKeeper alone: could not create its znodes");
  const std::size_t per_multi = 5;
  const std::size_t multis = (instances + per_multi - 1) / per_multi;
  auto t0 = steady_clock::now();
  if (!run_all(rounds * multis, [&](std::size_t k, auto done) {
        std::vector<model::zk_op> ops;
        auto first = (k % multis) * per_multi;
        for (auto i = first; i < std::min(instances, first + per_multi); ++i)
          ops.push_back(model::zk_op{model::zk_op::kind::set, root + std::to_string(i), data, -1});
        store->multi(std::move(ops), [done](io::zk_rc rc, std::vector<io::zk_rc>) { done(rc); });
      }))
    throw std::runtime_error("ZooKeeper alone: a multi failed");
  auto secs = duration<double>(steady_clock::now() - t0).count();
  store->stop();
  return static_cast<double>(rounds * instances * data.size()) / 1e6 / secs;
}

void print_mode(const char* mode, const figures& f) {
  auto& st = f.stats;
  auto multis = counter(st, "multis_committed") - f.orchestrate_multis;
  if (f.orchestrated > 0)
    std::printf("  %-9s orchestrate: %zu resources on %zu instances durable in %.2f s, %lld multis\n",
                mode, f.orchestrated, f.instances, f.orchestrate_s,
                static_cast<long long>(f.orchestrate_multis));
  if (f.events == 0)
    return;
  std::printf("  %-9s %9.0f ev/s  p50 %8.1f ms  p99 %8.1f ms  max %8.1f ms  multis %6lld  "
              "lost %zu  (%zu events)\n",
              mode, f.events_per_s, f.p50_ms, f.p99_ms, f.max_ms, static_cast<long long>(multis),
              f.lost, f.events);
  auto batches = counter(st, "batches");
  std::printf("  %-9s orchestrator: batches %lld (%.0f events each), multi-ops %lld, "
              "interrupted %lld, conflicts %lld, refused %lld, queue-full %lld\n",
              "", static_cast<long long>(batches),
              batches > 0 ? static_cast<double>(counter(st, "batched_events")) / batches : 0.0,
              static_cast<long long>(counter(st, "multi_ops")),
              static_cast<long long>(counter(st, "write_interrupted")),
              static_cast<long long>(counter(st, "write_conflicts")),
              static_cast<long long>(counter(st, "batches_refused")),
              static_cast<long long>(counter(st, "events_refused_queue_full")));
  for (auto& h : st.histograms)
    if (h.name == "zookeeper_multi_duration" && h.count > 0)
      std::printf("  %-9s orchestrator: multi latency mean %.1f ms over %llu multis\n", "",
                  h.sum * 1000 / static_cast<double>(h.count),
                  static_cast<unsigned long long>(h.count));
  // The actor's own time (every handler, rendering and encoding included) per event.
  double handler_ns = -f.preload_handler_ns;
  for (auto& h : st.handlers)
    handler_ns += static_cast<double>(h.total_ns);
  std::printf("  %-9s orchestrator: %.2f us of handler time per event\n", "",
              handler_ns / 1000.0 / static_cast<double>(f.events));
  for (auto& h : st.handlers)
    if (h.message == "apply" || h.message == "committed")
      std::printf("  %-9s orchestrator: %-9s %8llu handled, mean %6.1f us, max %8.1f ms\n", "",
                  h.message.c_str(), static_cast<unsigned long long>(h.handled),
                  h.handled ? static_cast<double>(h.total_ns) / 1000.0 / static_cast<double>(h.handled)
                            : 0.0,
                  static_cast<double>(h.max_ns) / 1e6);
}

bool parse_count(const char* text, std::size_t& out) {
  char* end = nullptr;
  errno = 0;
  auto v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0')
    return false;
  out = static_cast<std::size_t>(v);
  return true;
}

// Returns nullopt after printing why (or the usage) when the command line is not usable.
std::optional<options> parse(int argc, char** argv, int& exit_code) {
  options o;
  std::optional<std::size_t> events, baseline, preload, batch;
  exit_code = 2;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--help" || k == "-h") {
      std::fputs(usage_text, stdout);
      exit_code = 0;
      return std::nullopt;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "orchestrator_bench: %s needs a value (see --help)\n", k.c_str());
      return std::nullopt;
    }
    const char* v = argv[++i];
    std::size_t n = 0;
    auto count = [&](std::optional<std::size_t>& into) {
      if (!parse_count(v, n)) {
        std::fprintf(stderr, "orchestrator_bench: %s wants a count, not \"%s\"\n", k.c_str(), v);
        return false;
      }
      into = n;
      return true;
    };
    if (k == "--scenario") {
      o.scenario = v;
    } else if (k == "--events") {
      if (!count(events)) return std::nullopt;
    } else if (k == "--baseline-events") {
      if (!count(baseline)) return std::nullopt;
    } else if (k == "--preload") {
      if (!count(preload)) return std::nullopt;
    } else if (k == "--batch-size") {
      if (!count(batch)) return std::nullopt;
    } else if (k == "--zk") {
      o.zk = v;
    } else if (k == "--seed") {
      if (!parse_count(v, n)) {
        std::fprintf(stderr, "orchestrator_bench: --seed wants a number, not \"%s\"\n", v);
        return std::nullopt;
      }
      o.seed = n;
    } else {
      std::fprintf(stderr, "orchestrator_bench: unknown option %s (see --help)\n", k.c_str());
      return std::nullopt;
    }
  }
  const auto& sc = o.scenario;
  if (sc == "standard") {
    o.preload = 400000, o.events = 100000, o.baseline_events = 2000;
  } else if (sc == "events-10k") {
    o.preload = 400000, o.events = 10000, o.baseline_events = 2000;
  } else if (sc == "events-100k") {
    o.preload = 400000, o.events = 100000, o.baseline_events = 2000;
  } else if (sc == "events-500k") {
    o.preload = 400000, o.events = 500000, o.baseline_events = 2000;
  } else if (sc == "orchestrate-100k") {
    o.preload = 100000, o.events = 0, o.orchestrate_only = true;
  } else if (sc == "orchestrate-495k") {
    o.preload = 495000, o.events = 0, o.orchestrate_only = true;
  } else if (sc != "custom") {
    std::fprintf(stderr, "orchestrator_bench: unknown scenario \"%s\" (see --help)\n", sc.c_str());
    return std::nullopt;
  }
  if (events) o.events = *events;
  if (preload) o.preload = *preload;
  if (batch) o.batch_size = std::max<std::size_t>(*batch, 1);
  if (baseline)
    o.baseline_events = *baseline;
  else if (o.baseline_events == 0 || events)
    o.baseline_events = std::min<std::size_t>(o.events, o.preload > 0 ? 2000 : 5000);
  if (o.orchestrate_only && !events)
    o.baseline_events = 0;
  exit_code = 0;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  auto parsed = parse(argc, argv, exit_code);
  if (!parsed)
    return exit_code;
  auto o = *parsed;
  log::set_level(log::level::warn);
  // The benches' ZooKeeper (bench_support.hpp: 2 GB heap, exits visibly when out of heap).
  std::unique_ptr<bench::lean_zookeeper> zks;
  if (o.zk.empty())
    zks = std::make_unique<bench::lean_zookeeper>();
  const std::string hosts = o.zk.empty() ? zks->hosts() : o.zk;
  caf::actor_system_config cfg;
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  actors::tune_scheduler(cfg);  // as the daemon runs
  caf::actor_system sys{cfg};
  std::printf("orchestrator bench, scenario %s: %zu events (baseline %zu) after %zu preloaded "
              "UUIDs, batched batchSize %zu, ZooKeeper %s\n",
              o.scenario.c_str(), o.events, o.baseline_events, o.preload, o.batch_size,
              hosts.c_str());
  std::fflush(stdout);
  // Both modes against a warm server, as production's is (bench_support.hpp).
  std::printf("  ZooKeeper warmed first: 100 MB of multis of five 195 KB setData, one at a time, at "
              "%.1f MB/s (a fresh server)\n", bench::warm_zookeeper(hosts));
  std::fflush(stdout);
  // Separate resource types so the two modes never share znodes.
  auto batched = run(sys, hosts, "Thing", o.batch_size, model::default_multi_budget, o.preload,
                     o.events, o.seed);
  // The seed's mode: one multi per event; an orchestrate writes one instance per multi.
  auto baseline = run(sys, hosts, "Rule", 1, 1, o.preload, o.baseline_events, o.seed);
  print_mode("batched", batched);
  print_mode("baseline", baseline);
  // After both modes: the server's JIT is as warm as it was for them at their end.
  if (batched.instances > 0) {
    auto mb_s = zookeeper_alone_mb_s(hosts, batched.instances, 6);
    auto full_mb = static_cast<double>(batched.instances) * 195001 / 1e6;
    std::printf("  ZooKeeper alone: %.1f MB/s of full-instance rewrites (5 to a multi, pipelined); "
                "a batch rewriting all %zu instances (%.1f MB) takes %.0f ms at that rate, so an "
                "event durable through such batches waits up to ~%.0f ms\n",
                mb_s, batched.instances, full_mb, full_mb / mb_s * 1000, 2 * full_mb / mb_s * 1000);
  }
  std::printf("  peak RSS %.1f MB (the whole bench process: both modes, the ids it generates, "
              "the ZooKeeper client); RSS after batched %.1f MB, after baseline %.1f MB\n",
              peak_rss_kb() / 1024.0, batched.rss_kb / 1024.0, baseline.rss_kb / 1024.0);
  if (o.events > 0 && o.baseline_events > 0) {
    if (o.baseline_events != o.events)
      std::printf("  (the baseline ran %zu events, the batched mode %zu: at this size the "
                  "baseline manages a few hundred events per second)\n",
                  o.baseline_events, o.events);
    std::printf("bench: batched %.0f ev/s, baseline %.0f ev/s, ratio %.1f, p99 %.1f ms, lost %zu\n",
                batched.events_per_s, baseline.events_per_s,
                baseline.events_per_s > 0 ? batched.events_per_s / baseline.events_per_s : 0.0,
                batched.p99_ms, batched.lost + baseline.lost);
  } else if (o.orchestrate_only) {
    std::printf("bench: orchestrate of %zu resources durable in %.2f s (baseline %.2f s), "
                "lost %zu\n",
                batched.orchestrated, batched.orchestrate_s, baseline.orchestrate_s,
                o.preload - batched.orchestrated);
  }
  std::fflush(stdout);
  return 0;
}
