// Through-the-broker bench: the real daemon (build/bin/iota-orchestrator) with a real
// ZooKeeper and mosquitto, fed notifies by a pool of MQTT publishers at QoS 1. Measures the
// whole path publish -> broker -> daemon (journal, mqtt_bridge, resource_orchestrator) ->
// durable in ZooKeeper, in the batched mode (the daemon's defaults) and the seed's
// baseline (batchSize 1, one multi-op per event), next to the broker's own QoS 1
// publish -> subscribe throughput with no daemon (mosquitto_sub as the subscriber).
//
//   broker_bench [--preload N] [--events N] [--baseline-events N] [--paced-events N]
//                [--paced-rate R] [--publishers N] [--noop-events N] [--bulk N]
//
// The batched daemon also takes --noop-events deletes of ids that were never placed: the same
// broker -> journal -> mqtt_bridge -> orchestrator -> acknowledgement path with no ZooKeeper
// write, i.e. the ceiling of the MQTT path itself on this machine. Then one `bc` creating
// --bulk new ids and one `bd` deleting as many placed ones, each timed publish -> durable.
//
// "Durable" is read from the daemon itself: its journal's commit mark (the file
// <journalDir>/committed, rewritten by the journal's mark thread at most every 10 ms) is the
// sequence number up to which EVERY notify taken from the broker has been acknowledged by its
// orchestrator (the ZooKeeper multi-op succeeded, or the notify changed nothing); the same value
// is `journal_committed` in /v1/api/stats, but that answer waits behind the orchestrator's
// mailbox. The bench reads the file every 10 ms; the k-th notify published counts as durable at
// the first read whose mark covers k (the broker delivers in publish order on this single path).
// That is conservative by up to ~20 ms (mark interval + poll period). At the
// end, every resources znode is read from ZooKeeper and compared with what the events should
// have produced: `lost` = creates missing + deletes not applied (must be 0).
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "bench/bench_support.hpp"
#include "tests/fixtures/ids.hpp"

using namespace iota;
using namespace iota::bench;

namespace {

constexpr const char* topic = "cm/notify";

struct options {
  std::size_t preload = 400000;
  std::size_t events = 100000;
  std::size_t baseline_events = 2000;
  std::size_t paced_events = 25000;
  double paced_rate = 5000;
  std::size_t publishers = 4;
  std::size_t noop_events = 50000;  // deletes of unknown ids: the MQTT path without ZooKeeper writes
  std::size_t bulk = 20000;         // ids of one `bc`, then of one `bd`, after the rest (0: none)
};

struct event_set {
  std::vector<std::string> payloads;
  std::vector<std::string> created, deleted;
};

// 60% creates of fresh UUIDs, 40% deletes of preloaded ids (each deleted once), as the seed's
// notifies: `c` with k.id, `bd` with where.id.
event_set make_events(std::size_t n, std::vector<std::string>& fresh, std::vector<std::string>& deletable,
                      std::mt19937_64& rng) {
  event_set s;
  s.payloads.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (deletable.empty() || rng() % 10 < 6) {
      auto id = fresh.back();
      fresh.pop_back();
      s.payloads.push_back(R"({"o":"c","t":"Thing","k":{"id":")" + id + R"("},"instance":{}})");
      s.created.push_back(id);
    } else {
      auto k = rng() % deletable.size();
      auto id = deletable[k];
      deletable[k] = deletable.back();
      deletable.pop_back();
      s.payloads.push_back(R"({"o":"bd","t":"Thing","where":{"id":")" + id + R"("}})");
      s.deleted.push_back(id);
    }
  }
  return s;
}

struct figures {
  std::size_t events = 0;
  double events_per_s = 0, p50 = 0, p99 = 0, max = 0;
};

// CPU per event of each process on the path, microseconds (user + system, all threads).
struct cpu_split {
  double publishers = 0, broker = 0, daemon = 0, zookeeper = 0, subscriber = 0;
  double sum() const { return publishers + broker + daemon + zookeeper + subscriber; }
};

struct mode_figures {
  figures full, paced, noop, bulk_create, bulk_delete;
  cpu_split full_cpu;
  bool has_paced = false, has_noop = false, has_bulk = false;
  std::int64_t multis = 0, dropped = 0, lost = 0, duplicates = 0;
  double rss_mb = 0, rss_now_mb = 0, orchestrate_s = 0;
  std::size_t instances = 0;
  json stats;
};

// Publishes `events` and waits until the daemon's journal mark covers all of them.
std::int64_t read_mark(const std::string& file) {
  std::ifstream in{file};
  std::int64_t v = -1;
  in >> v;
  return in ? v : -1;
}

figures measure(lean_zookeeper& zk, publisher_pool& pool, const std::string& mark_file,
                const std::vector<std::string>& payloads, double rate) {
  if (payloads.empty())  // e.g. --baseline-events 0: nothing to time
    return {};
  auto base = std::max<std::int64_t>(0, read_mark(mark_file));
  std::vector<std::pair<clock::time_point, std::int64_t>> samples;
  std::mutex m;
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> latest{base};
  std::thread poller([&] {
    while (!stop) {
      auto v = read_mark(mark_file);
      auto now = clock::now();
      if (v < 0) {  // between the mark thread's write and rename: try again
        std::this_thread::sleep_for(std::chrono::milliseconds{2});
        continue;
      }
      {
        std::lock_guard<std::mutex> g{m};
        samples.emplace_back(now, v);
      }
      latest = v;
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
  });
  auto target = base + static_cast<std::int64_t>(payloads.size());
  std::vector<clock::time_point> sent;
  try {
    sent = pool.publish(topic, payloads, rate);
  } catch (...) {
    stop = true;
    poller.join();
    throw;
  }
  bool done = test::wait_until([&] { return latest >= target || !zk.running(); }, std::chrono::minutes{30}) &&
              latest >= target;
  stop = true;
  poller.join();
  figures f;
  f.events = payloads.size();
  std::vector<double> lat;
  lat.reserve(payloads.size());
  std::size_t s = 0;
  clock::time_point last_durable = sent.back();
  for (std::size_t k = 0; k < payloads.size(); ++k) {
    auto want = base + static_cast<std::int64_t>(k) + 1;
    while (s < samples.size() && samples[s].second < want)
      ++s;
    if (s == samples.size())
      break;
    lat.push_back(std::max(0.0, ms_between(sent[k], samples[s].first)));
    last_durable = samples[s].first;
  }
  if (!done)
    std::printf("    WARNING: only %lld of %zu notifies became durable within 30 min\n",
                static_cast<long long>(latest - base), payloads.size());
  f.events_per_s = lat.size() / std::max(1e-9, ms_between(sent.front(), last_durable) / 1000.0);
  f.p50 = percentile(lat, 0.50);
  f.p99 = percentile(lat, 0.99);
  f.max = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
  return f;
}

// One daemon with `batch`, fresh ZooKeeper and broker: orchestrate the preload, then the full
// rate events, then (if any) the paced events.
mode_figures run_mode(const options& o, std::size_t batch, const std::string& templates,
                      const std::vector<std::string>& preload, const event_set& full, const event_set* paced,
                      const event_set* noop = nullptr, const event_set* bulk_create = nullptr,
                      const event_set* bulk_delete = nullptr) {
  mode_figures r;
  lean_zookeeper zk;
  // Each mode against a warm server, as production's is (bench_support.hpp).
  std::printf("    ZooKeeper warmed first: 100 MB of multis at %.1f MB/s (a fresh server)\n", warm_zookeeper(zk.hosts()));
  std::fflush(stdout);
  lean_broker broker;
  auto d = daemon_options_for(zk, broker, "iota-orchestrator-bench", batch);
  d.thing_inventory = preload;
  d.templates_dir = templates;
  test::daemon_process daemon{d};
  auto pid = start_daemon(daemon);
  auto t0 = clock::now();
  auto res = test::http_request(daemon.http_port(), "POST", "/v1/api/orchestrations/Thing/orchestrate", "{}",
                                {{"Content-Type", "application/json"}}, std::chrono::minutes{10});
  r.orchestrate_s = ms_between(t0, clock::now()) / 1000;
  auto body = json::parse(res.body, nullptr, false);
  if (res.status != 200 || body.is_discarded())
    throw std::runtime_error("orchestrate failed: " + std::to_string(res.status) + " " + res.body);
  r.instances = body.contains("instances") ? body.at("instances").size() : 0;
  std::printf("    orchestrated %zu resources on %zu instances in %.1f s; daemon RSS %.0f MB, peak %.0f MB\n",
              preload.size(), r.instances, r.orchestrate_s, pid > 0 ? status_mb(pid, "VmRSS") : -1.0,
              pid > 0 ? peak_rss_mb(pid) : -1.0);
  auto mark = daemon.dir() + "/journal/committed";
  {
    publisher_pool pool{broker.url(), o.publishers};
    double c0[4] = {own_cpu_seconds(), cpu_seconds(broker.pid()), cpu_seconds(pid), cpu_seconds(zk.pid())};
    r.full = measure(zk, pool, mark, full.payloads, 0);
    auto per_event = [&](double after, double before) { return (after - before) * 1e6 / static_cast<double>(full.payloads.size()); };
    r.full_cpu.publishers = per_event(own_cpu_seconds(), c0[0]);
    r.full_cpu.broker = per_event(cpu_seconds(broker.pid()), c0[1]);
    r.full_cpu.daemon = per_event(cpu_seconds(pid), c0[2]);
    r.full_cpu.zookeeper = per_event(cpu_seconds(zk.pid()), c0[3]);
    if (paced) {
      r.paced = measure(zk, pool, mark, paced->payloads, o.paced_rate);
      r.has_paced = true;
    }
    if (noop) {
      r.noop = measure(zk, pool, mark, noop->payloads, 0);
      r.has_noop = true;
    }
    if (bulk_create && bulk_delete) {  // one message each: its latency is publish -> durable
      r.bulk_create = measure(zk, pool, mark, bulk_create->payloads, 0);
      r.bulk_delete = measure(zk, pool, mark, bulk_delete->payloads, 0);
      r.has_bulk = true;
    }
  }
  r.stats = fetch_stats(daemon.http_port());
  if (!zk.running())
    throw std::runtime_error("ZooKeeper exited during the run: " + zk.output());
  r.multis = counter(r.stats, "resource_orchestrator/", "multis", true);
  r.dropped = counters_with_prefix(r.stats, "mqtt_bridge", "dropped_");
  r.rss_mb = pid > 0 ? peak_rss_mb(pid) : -1;
  r.rss_now_mb = pid > 0 ? status_mb(pid, "VmRSS") : -1;
  daemon.stop();

  // Ground truth: what ZooKeeper holds.
  auto placed = zookeeper_placed_ids(zk.hosts(), "Thing");
  std::unordered_set<std::string> in_zk;
  in_zk.reserve(placed.size());
  for (auto& id : placed)
    if (!in_zk.insert(id).second)
      ++r.duplicates;
  // lost = ids that should be placed but are not + ids deleted but still placed.
  std::unordered_set<std::string> expected(preload.begin(), preload.end());
  std::vector<const std::string*> deleted;
  for (auto* s : {&full, paced, noop, bulk_create, bulk_delete}) {
    if (!s)
      continue;
    for (auto& id : s->created)
      expected.insert(id);
    for (auto& id : s->deleted) {
      expected.erase(id);
      deleted.push_back(&id);
    }
  }
  for (auto& id : expected)
    r.lost += in_zk.count(id) ? 0 : 1;
  for (auto* id : deleted)
    r.lost += in_zk.count(*id) ? 1 : 0;
  return r;
}

// The broker alone: the same payloads, QoS 1, publish -> subscribe through mosquitto_sub (a
// persistent session created first, so nothing published before it is connected is missed).
double broker_alone(const options& o, const std::vector<std::string>& payloads, cpu_split& cpu) {
  lean_broker broker;
  test::temp_dir dir{"iota-bench-sub"};
  auto port = std::to_string(broker.port());
  std::vector<std::string> base{"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-q", "1", "-c",
                                "-i", "iota-bench-sub", "-t", topic};
  {
    auto argv = base;
    argv.push_back("-E");
    test::child_process sub{argv, {}, dir.path() + "/sub0.log"};
    if (!test::wait_until([&] { return !sub.running(); }, std::chrono::seconds{30}))
      throw std::runtime_error("mosquitto_sub -E did not finish");
  }
  auto argv = base;
  argv.push_back("-C");
  argv.push_back(std::to_string(payloads.size()));
  publisher_pool pool{broker.url(), o.publishers};
  test::child_process sub{argv, {}, "/dev/null"};
  double c0[3] = {own_cpu_seconds(), cpu_seconds(broker.pid()), 0};
  std::atomic<double> sub_cpu{0};  // sampled while it runs: its /proc entry goes when it exits
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling) {
      if (auto c = cpu_seconds(sub.pid()); c > sub_cpu)
        sub_cpu = c;
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
  });
  auto sent = pool.publish(topic, payloads, 0);
  bool received = test::wait_until([&] { return !sub.running(); }, std::chrono::minutes{10});
  sampling = false;
  sampler.join();
  if (!received)
    throw std::runtime_error("mosquitto_sub did not receive every message");
  auto done = clock::now();
  auto n = static_cast<double>(payloads.size());
  cpu.publishers = (own_cpu_seconds() - c0[0]) * 1e6 / n;
  cpu.broker = (cpu_seconds(broker.pid()) - c0[1]) * 1e6 / n;
  cpu.subscriber = (sub_cpu - c0[2]) * 1e6 / n;
  return payloads.size() / (ms_between(sent.front(), done) / 1000.0);
}

void print_row(const char* mode, const figures& f, const mode_figures& m) {
  std::printf("  %-20s %9.0f ev/s  p50 %8.1f ms  p99 %8.1f ms  max %8.1f ms  (%zu events)\n", mode,
              f.events_per_s, f.p50, f.p99, f.max, f.events);
  (void)m;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse_flags(argc, argv, "broker_bench",
                   {{"--preload", &o.preload},
                    {"--events", &o.events},
                    {"--baseline-events", &o.baseline_events},
                    {"--paced-events", &o.paced_events},
                    {"--paced-rate", &o.paced_rate},
                    {"--publishers", &o.publishers},
                    {"--noop-events", &o.noop_events},
                    {"--bulk", &o.bulk}}))
    return 2;
  return run_bench("broker_bench", [&] {
    test::temp_dir templates{"iota-bench-templates"};
    for (auto [name, res] : {std::pair{"iota-dac", "Thing"}, std::pair{"iota-rules-engine", "Rule"}})
      write_pod_template(templates.path(), name, sleeper_template(name, res));
    std::mt19937_64 rng{9};
    auto preload = test::uuids(o.preload, 1);
    auto fresh = test::uuids(o.events + o.paced_events + o.baseline_events, 2);
    event_set noop;  // deletes of ids never placed: parsed, journaled, routed, acknowledged, no write
    for (auto& id : test::uuids(o.noop_events, 3)) {
      noop.payloads.push_back(R"({"o":"bd","t":"Thing","where":{"id":")" + id + R"("}})");
      noop.deleted.push_back(id);
    }
    auto deletable = preload;
    auto full = make_events(o.events, fresh, deletable, rng);
    auto paced = make_events(o.paced_events, fresh, deletable, rng);
    // Bulk notifies at production size: a `bc` of new ids, then a `bd` of placed ones.
    event_set bulk_create, bulk_delete;
    if (o.bulk > 0) {
      auto ids = test::uuids(o.bulk, 4);
      std::string keys, where;
      for (std::size_t i = 0; i < ids.size() && !deletable.empty(); ++i) {
        keys += (i ? ",\"" : "\"") + ids[i] + "\"";
        bulk_create.created.push_back(ids[i]);
        auto gone = deletable.back();
        deletable.pop_back();
        where += (i ? ",\"" : "\"") + gone + "\"";
        bulk_delete.deleted.push_back(gone);
      }
      bulk_create.payloads.push_back(R"({"o":"bc","t":"Thing","keys":[)" + keys + "]}");
      bulk_delete.payloads.push_back(R"({"o":"bd","t":"Thing","where":{"id":[)" + where + "]}}");
    }
    auto deletable_b = preload;
    auto base_events = make_events(o.baseline_events, fresh, deletable_b, rng);
    std::printf("broker bench: %zu resources preloaded (resourcePerInstance 5000), %zu mixed events at full "
                "rate + %zu at %.0f ev/s offered (batched), %zu (baseline); %zu publishers, QoS 1; load %s\n",
                o.preload, o.events, o.paced_events, o.paced_rate, o.baseline_events, o.publishers,
                load_average().c_str());

    std::printf("  broker alone (mosquitto -> mosquitto_sub, QoS 1, %zu messages)...\n", full.payloads.size());
    cpu_split alone_cpu;
    auto broker_rate = broker_alone(o, full.payloads, alone_cpu);
    std::printf("    %.0f msg/s\n", broker_rate);

    std::printf("  batched mode (the daemon's defaults)...\n");
    auto batched = run_mode(o, 0, templates.path(), preload, full, o.paced_events ? &paced : nullptr,
                            o.noop_events ? &noop : nullptr, o.bulk ? &bulk_create : nullptr,
                            o.bulk ? &bulk_delete : nullptr);
    std::printf("  baseline mode (orchestrator.batchSize 1, one multi-op per event)...\n");
    auto baseline = run_mode(o, 1, templates.path(), preload, base_events, nullptr);

    std::printf("\n  %-20s %9s       %-11s      %-11s      %-11s\n", "mode", "events/s", "p50", "p99", "max");
    std::printf("  %-20s %9.0f msg/s (publish -> subscribe, no daemon)\n", "broker alone", broker_rate);
    print_row("batched, full rate", batched.full, batched);
    if (batched.has_paced) {
      char label[64];
      std::snprintf(label, sizeof label, "batched, %.0f/s", o.paced_rate);
      print_row(label, batched.paced, batched);
    }
    if (batched.has_noop)
      print_row("batched, no-op", batched.noop, batched);
    if (batched.has_bulk) {
      std::printf("  %-20s durable %.1f ms after its publish (%zu keys, %.0f KB)\n", "bulk create (bc)",
                  batched.bulk_create.max, o.bulk, static_cast<double>(bulk_create.payloads[0].size()) / 1024);
      std::printf("  %-20s durable %.1f ms after its publish (%zu ids in where.id, %.0f KB)\n", "bulk delete (bd)",
                  batched.bulk_delete.max, o.bulk, static_cast<double>(bulk_delete.payloads[0].size()) / 1024);
    }
    print_row("baseline, full rate", baseline.full, baseline);
    for (auto* m : {&batched, &baseline}) {
      std::printf("  %s: ZooKeeper multi-ops %lld for %zu events, dropped %lld, lost %lld, duplicates %lld, "
                  "daemon peak RSS %.0f MB (%.0f MB at the end), orchestrate %.1f s\n",
                  m == &batched ? "batched " : "baseline", static_cast<long long>(m->multis),
                  m->full.events + (m->has_paced ? m->paced.events : 0) + (m->has_noop ? m->noop.events : 0), static_cast<long long>(m->dropped),
                  static_cast<long long>(m->lost), static_cast<long long>(m->duplicates), m->rss_mb,
                  m->rss_now_mb, m->orchestrate_s);
    }
    // Where the CPU goes: the rates are bounded by what the two cores can give each event.
    auto& fc = batched.full_cpu;
    std::printf("  CPU per message, broker alone (us): publishers %.1f, mosquitto %.1f, mosquitto_sub %.1f"
                " = %.1f (at %.0f msg/s: %.0f%% of 2 cores)\n",
                alone_cpu.publishers, alone_cpu.broker, alone_cpu.subscriber, alone_cpu.sum(), broker_rate,
                alone_cpu.sum() * broker_rate / 2e4);
    std::printf("  CPU per event, batched full rate (us): publishers %.1f, mosquitto %.1f, daemon %.1f, "
                "ZooKeeper %.1f = %.1f (at %.0f ev/s: %.0f%% of 2 cores)\n",
                fc.publishers, fc.broker, fc.daemon, fc.zookeeper, fc.sum(), batched.full.events_per_s,
                fc.sum() * batched.full.events_per_s / 2e4);
    if (fc.sum() > 0 && broker_rate > 0) {
      auto ceiling = 2e6 / fc.sum();        // ev/s the two cores allow at that cost
      auto budget = 2e6 / (0.9 * broker_rate);  // us an event may cost for 90% of the broker
      std::printf("  model: at %.1f us an event the two cores allow %.0f ev/s = %.0f%% of the broker alone; "
                  "90%% needs <= %.1f us an event, so the daemon and ZooKeeper together under %.1f "
                  "(now %.1f)\n",
                  fc.sum(), ceiling, 100 * ceiling / broker_rate, budget,
                  budget - fc.publishers - fc.broker, fc.daemon + fc.zookeeper);
    }
    std::printf("  ratio batched/baseline %.1f\n",
                baseline.full.events_per_s > 0 ? batched.full.events_per_s / baseline.full.events_per_s : 0.0);
    std::printf("  per-actor figures (/v1/api/stats), batched:\n");
    print_actor_figures(batched.stats);
    std::printf("  per-actor figures (/v1/api/stats), baseline:\n");
    print_actor_figures(baseline.stats);
    auto lost = batched.lost + baseline.lost + batched.dropped + baseline.dropped;
    std::printf("bench-broker: daemon %.0f ev/s, broker alone %.0f ev/s, share %.0f%%, p99 %.1f ms, lost %lld, rss %.0f MB\n",
                batched.full.events_per_s, broker_rate, 100.0 * batched.full.events_per_s / broker_rate,
                batched.has_paced ? batched.paced.p99 : batched.full.p99, static_cast<long long>(lost),
                batched.rss_mb);
  });
}
