// In-process bench: events sent straight to a resource_orchestrator backed by a real
// ZooKeeper server (the engine and ZooKeeper, no broker). Runs the seed's one-multi-per-event
// baseline and the batched mode on the same machine in one run and prints both.
//
//   orchestrator_bench [--events N] [--preload N] [--baseline-events N]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/resource_orchestrator.hpp"
#include "io/inventory.hpp"
#include "io/log.hpp"
#include "io/zookeeper_store.hpp"
#include "messages/errors.hpp"
#include "fakes/fake_zookeeper_store.hpp"
#include "tests/fixtures/ids.hpp"
#include "tests/fixtures/process.hpp"
#include "tests/fixtures/zookeeper_server.hpp"

using namespace iota;
using namespace std::chrono;

namespace {

struct figures {
  double events_per_s = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  std::int64_t multis = 0;
  std::size_t lost = 0;
  std::size_t events = 0;
};

struct latency_log {
  std::mutex m;
  std::vector<double> ms;
  std::atomic<std::size_t> acks{0}, errors{0};
};

figures run(caf::actor_system& sys, const std::string& hosts, const std::string& resource,
            std::size_t batch, std::size_t preload, std::size_t events, std::uint64_t seed) {
  std::mt19937_64 rng{seed};
  auto placed = test::uuids(preload, rng());
  auto store = io::make_zookeeper_store(hosts);
  actors::orchestrator_settings s;
  s.resource = resource;
  s.batch_size = batch;
  auto inventory = std::make_shared<test::fixed_inventory>();
  inventory->ids = placed;
  auto orch = actors::spawn_resource_orchestrator(sys, s, store, inventory);
  store->start();
  caf::scoped_actor self{sys};
  if (preload > 0) {
    auto t0 = steady_clock::now();
    self->request(orch, seconds(600), msg::orchestrate_atom::value,
                  model::orchestrate_request{model::resource_options{10, 100, 5000}, false})
      .receive([&](model::orchestration_status& st) {
                 std::printf("  %s: orchestrated %zu resources on %zu instances in %.2f s\n",
                             resource.c_str(), st.resources, st.instances.size(),
                             duration<double>(steady_clock::now() - t0).count());
               },
               [&](caf::error& e) { std::printf("  orchestrate failed: %s\n", msg::refusal_text(e).c_str()); });
  }
  // 60% creates of new ids, 40% deletes of random placed ids.
  std::vector<msg::resource_event> evs;
  evs.reserve(events);
  auto fresh = test::uuids(events, rng());
  std::vector<std::string> live = placed;
  for (std::size_t i = 0; i < events; ++i) {
    if (live.empty() || rng() % 10 < 6) {
      evs.push_back({msg::event_kind::create, {fresh[i]}});
      live.push_back(fresh[i]);
    } else {
      auto k = rng() % live.size();
      evs.push_back({msg::event_kind::destroy, {live[k]}});
      live[k] = live.back();
      live.pop_back();
    }
  }
  auto log = std::make_shared<latency_log>();
  log->ms.reserve(events);
  auto client = sys.spawn([log](caf::event_based_actor* c) -> caf::behavior {
    return {[=](msg::apply_atom, const msg::orchestrator_actor& target, msg::resource_event& ev) {
      auto t0 = steady_clock::now();
      c->request(target, caf::infinite, msg::apply_atom::value, std::move(ev))
        .then(
          [log, t0](msg::event_ack&) {
            auto d = duration<double, std::milli>(steady_clock::now() - t0).count();
            std::lock_guard<std::mutex> g{log->m};
            log->ms.push_back(d);
            ++log->acks;
          },
          [log](caf::error&) { ++log->errors; });
    }};
  });
  auto t0 = steady_clock::now();
  for (auto& ev : evs)
    caf::anon_send(client, msg::apply_atom::value, orch, std::move(ev));
  test::wait_until([&] { return log->acks + log->errors >= events; }, minutes(30));
  auto elapsed = duration<double>(steady_clock::now() - t0).count();
  figures f;
  f.events = events;
  f.events_per_s = events / elapsed;
  f.lost = events - log->acks;
  {
    std::lock_guard<std::mutex> g{log->m};
    std::sort(log->ms.begin(), log->ms.end());
    if (!log->ms.empty()) {
      f.p50_ms = log->ms[log->ms.size() / 2];
      f.p99_ms = log->ms[log->ms.size() * 99 / 100];
      f.max_ms = log->ms.back();
    }
  }
  self->request(orch, seconds(60), msg::stats_atom::value)
    .receive(
      [&](msg::actor_stats& st) {
        for (auto& [k, v] : st.counters)
          if (k == "multis")
            f.multis = v;
      },
      [](caf::error&) {});
  caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(orch, caf::exit_reason::user_shutdown);
  store->stop();
  return f;
}

void print(const char* mode, const figures& f) {
  std::printf("  %-9s %9.0f ev/s  p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms  multis %7lld  lost %zu  (%zu events)\n",
              mode, f.events_per_s, f.p50_ms, f.p99_ms, f.max_ms, static_cast<long long>(f.multis),
              f.lost, f.events);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t events = 20000, preload = 0, baseline_events = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    auto v = static_cast<std::size_t>(std::stoull(argv[i + 1]));
    if (k == "--events") events = v;
    else if (k == "--preload") preload = v;
    else if (k == "--baseline-events") baseline_events = v;
  }
  if (baseline_events == 0)
    baseline_events = std::min<std::size_t>(events, 5000);
  log::set_level(log::level::warn);
  test::zookeeper_server zk;
  caf::actor_system_config cfg;
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  std::printf("orchestrator bench: %zu events (baseline %zu) after %zu preloaded, ZooKeeper %s\n",
              events, baseline_events, preload, zk.hosts().c_str());
  // Separate resource types so the two modes never share znodes.
  auto batched = run(sys, zk.hosts(), "Thing", 1000, preload, events, 1);
  auto baseline = run(sys, zk.hosts(), "Rule", 1, preload, baseline_events, 1);
  print("batched", batched);
  print("baseline", baseline);
  std::printf("bench: batched %.0f ev/s, baseline %.0f ev/s, ratio %.1f, p99 %.1f ms, lost %zu\n",
              batched.events_per_s, baseline.events_per_s,
              baseline.events_per_s > 0 ? batched.events_per_s / baseline.events_per_s : 0.0,
              batched.p99_ms, batched.lost + baseline.lost);
  return 0;
}
