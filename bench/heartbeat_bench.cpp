// Heartbeat bench: thousands of simulated instances heart-beating into the Kafka
// stand-in (apps/iota-kafka-mock), consumed by the real daemon, which must count every one, drop
// none and restart no instance (every simulated instance beats many times per check period).
//
//   heartbeat_bench [--instances N] [--heartbeats N] [--rate R]
//
// The daemon holds at most 100 instances per resource type (SPEC section 3), so N instances are
// spread over ceil(N / 100) heart-beating resource types (Thing, Hb1, Hb2, ...), each orchestrated
// to 100 instances; the instances' processes are `sleep` (the pod template's command), so the
// machine's two cores go to the daemon, not to workers. Every resource type has its own consumer
// (group iota-orchestrator-<R>) reading the whole HeartBeat topic and ignoring the other types'
// messages, as the seed's design has it. A background round gives every instance one heartbeat
// every 2 s (checks every 10 s) for the whole run (so no check period ever finds a silent instance), and the measured
// burst adds --heartbeats more, round robin over the instances, at --rate offered (0: as fast as
// the producer goes). Figures come from the daemon's /v1/api/stats: heartbeats received per
// kafka_bridge, heartbeats routed to a supervisor per instance_fleet, restarts by cause.
// Heartbeats do not touch the orchestrator's batching: the baseline (orchestrator.batchSize 1)
// run is there because every bench prints both modes; the two should match.
#include <librdkafka/rdkafka.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_support.hpp"
#include "tests/fixtures/ids.hpp"
#include "tests/fixtures/kafka_mock.hpp"

using namespace iota;
using namespace iota::bench;

namespace {

struct options {
  std::size_t instances = 1000;
  std::size_t heartbeats = 50000;
  double rate = 5000;
};

struct producer {
  rd_kafka_t* rk = nullptr;
  rd_kafka_topic_t* topic = nullptr;
  std::atomic<std::uint64_t> delivered{0}, failed{0}, produced{0};
  std::mutex m;  // one producing thread at a time (burst and background rounds)

  explicit producer(const std::string& bootstrap) {
    char err[512];
    auto* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err);
    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof err);
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
      auto* p = static_cast<producer*>(opaque);
      (m->err ? p->failed : p->delivered)++;
    });
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk)
      throw std::runtime_error(std::string{"rd_kafka_new: "} + err);
    topic = rd_kafka_topic_new(rk, "HeartBeat", nullptr);
  }
  ~producer() {
    rd_kafka_flush(rk, 10000);
    rd_kafka_topic_destroy(topic);
    rd_kafka_destroy(rk);
  }
  void send(const std::string& value) {
    std::lock_guard<std::mutex> g{m};
    while (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, const_cast<char*>(value.data()),
                            value.size(), nullptr, 0, nullptr) != 0)
      rd_kafka_poll(rk, 10);  // queue full: serve delivery reports, retry
    ++produced;
    rd_kafka_poll(rk, 0);
  }
  void flush() {
    std::lock_guard<std::mutex> g{m};
    rd_kafka_flush(rk, 30000);
  }
};

std::string heartbeat(const std::string& resource, std::size_t id) {
  auto ts = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count();
  return R"({"resource":")" + resource + R"(","instanceId":")" + std::to_string(id) +
         R"(","resources":10,"ts":)" + std::to_string(ts) + "}";
}

// How many messages of type `message` the actor(s) handled.
std::int64_t handled(const json& stats, const std::string& actor, const std::string& message, bool prefix = false) {
  std::int64_t n = 0;
  for (const auto& a : stats.value("actors", json::array())) {
    auto an = a.value("actor", std::string{});
    if (prefix ? an.rfind(actor, 0) != 0 : an != actor)
      continue;
    if (a.at("handlers").contains(message))
      n += a.at("handlers").at(message).value("handled", std::int64_t{0});
  }
  return n;
}

struct mode_figures {
  double consumed_per_s = 0, drain_ms = 0, rss_mb = 0;
  std::int64_t produced = 0, received = 0, routed = 0, unknown = 0, dropped = 0, restarts = 0, read = 0;
  std::int64_t checks = 0, channel_down = 0, maintenance = 0;
  std::size_t instances = 0, resources = 0;
  json stats;
};

mode_figures run_mode(const options& o, std::size_t batch) {
  mode_figures r;
  std::size_t per = 100;
  std::size_t kinds = (o.instances + per - 1) / per;
  std::vector<std::string> resources{"Thing"};
  for (std::size_t k = 1; k < kinds; ++k)
    resources.push_back("Hb" + std::to_string(k));
  test::temp_dir templates{"iota-bench-templates"};
  for (std::size_t k = 0; k < kinds; ++k) {
    auto name = k == 0 ? std::string{"iota-dac"} : "hb-" + std::to_string(k);
    write_pod_template(templates.path(), name, sleeper_template(name));
  }
  write_pod_template(templates.path(), "iota-rules-engine", sleeper_template("iota-rules-engine"));

  lean_zookeeper zk;
  lean_broker broker;
  test::kafka_mock kafka;
  auto d = daemon_options_for(zk, broker, "iota-orchestrator-hb-bench", batch);
  d.thing_inventory = test::uuids(1000, 5);
  d.templates_dir = templates.path();
  d.init_instances = static_cast<int>(per);
  std::string extra;
  for (std::size_t k = 1; k < kinds; ++k)
    extra += "  - resource: Hb" + std::to_string(k) + "\n    instanceName: hb-" + std::to_string(k) +
             "\n    heart: true\n    initInstances: " + std::to_string(per) + "\n    inventory: { file: ./Thing.txt }\n";
  extra += "kafka: { brokers: \"" + kafka.bootstrap() + "\" }\n";
  extra += "liveness: { heartbeatPeriod: 10s, gracePeriod: 10s, podCheckPeriod: 60s }\n";
  d.extra_yaml = extra;
  test::daemon_process daemon{d};
  auto pid = start_daemon(daemon);
  for (auto& res : resources) {
    auto out = test::http_request(daemon.http_port(), "POST", "/v1/api/orchestrations/" + res + "/orchestrate", "{}",
                                  {{"Content-Type", "application/json"}}, std::chrono::minutes{5});
    if (out.status != 200)
      throw std::runtime_error("orchestrate " + res + " failed: " + out.body);
    auto j = json::parse(out.body, nullptr, false);
    r.instances += j.is_discarded() ? 0 : j.at("instances").size();
  }
  r.resources = kinds;
  std::printf("    %zu resource types orchestrated, %zu instances (processes: sleep)\n", kinds, r.instances);

  producer prod{kafka.bootstrap()};
  std::atomic<bool> stop_rounds{false};
  std::mutex pause_rounds;
  auto round = [&] {
    for (auto& res : resources)
      for (std::size_t i = 0; i < per; ++i)
        prod.send(heartbeat(res, i));
  };
  // Until every consumer is assigned (latest offset: earlier messages are not for it), and then
  // all along: one heartbeat per instance per second.
  std::thread rounds([&] {
    while (!stop_rounds) {
      {
        std::lock_guard<std::mutex> g{pause_rounds};
        if (!stop_rounds)
          round();
      }
      for (int i = 0; i < 20 && !stop_rounds; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
  });
  struct joiner {
    std::atomic<bool>& stop;
    std::thread& t;
    ~joiner() {
      stop = true;
      if (t.joinable())
        t.join();
    }
  } join_rounds{stop_rounds, rounds};
  std::string waiting;
  auto all_assigned = test::wait_until(
    [&] {
      auto s = fetch_stats(daemon.http_port());
      waiting.clear();
      for (auto& res : resources)
        if (counter(s, "kafka_bridge/" + res, "heartbeats_received") == 0)
          waiting += " " + res;
      return waiting.empty();
    },
    std::chrono::minutes{3});
  if (!all_assigned)
    throw std::runtime_error("no heartbeat counted within 3 minutes for:" + waiting + "; daemon log:\n" +
                             test::file_tail(daemon.dir() + "/daemon.log", 3000));
  // Past the grace period, so the checks below do apply to every instance.
  std::this_thread::sleep_for(std::chrono::seconds{11});
  // A quiet point: rounds paused, everything delivered has been received; counters from here.
  auto poll = [&](auto cond, std::chrono::milliseconds deadline) {
    auto until = clock::now() + deadline;
    while (clock::now() < until) {
      if (cond())
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds{200});
    }
    return false;
  };
  auto stats_now = [&] {  // a busy daemon may not answer in time: ask again
    for (int i = 0; i < 20; ++i) {
      auto s = fetch_stats(daemon.http_port());
      if (s.contains("actors"))
        return s;
    }
    throw std::runtime_error("the daemon did not answer /v1/api/stats");
  };
  auto received_now = [&] { return counter(stats_now(), "kafka_bridge/", "heartbeats_received", true); };
  std::int64_t rx0 = 0, delivered0 = 0;
  {
    std::lock_guard<std::mutex> pause{pause_rounds};
    prod.flush();
    std::int64_t last = -1;
    poll([&] {
      auto v = received_now();
      bool stable = v == last;
      last = v;
      return stable;
    }, std::chrono::seconds{30});
    rx0 = last;
    delivered0 = static_cast<std::int64_t>(prod.delivered.load());
  }
  auto before = stats_now();
  auto t0 = clock::now();
  for (std::size_t n = 0; n < o.heartbeats; ++n) {
    if (o.rate > 0)
      std::this_thread::sleep_until(t0 + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(n / o.rate)));
    auto k = n % o.instances;
    prod.send(heartbeat(resources[k / per], k % per));
  }
  auto t_produced = clock::now();
  prod.flush();
  auto target = static_cast<std::int64_t>(prod.delivered.load()) - delivered0;
  std::int64_t rx = 0;
  poll([&] { rx = received_now(); return rx - rx0 >= target; }, std::chrono::minutes{10});
  auto t_consumed = clock::now();
  // Keep the rounds going over two more liveness checks, so checks run with every instance live.
  auto ticks0 = handled(before, "heartbeat_ticker/Thing", "tick");
  poll([&] { return handled(stats_now(), "heartbeat_ticker/Thing", "tick") >= ticks0 + 3; },
       std::chrono::seconds{60});
  std::int64_t delivered_end = 0, rx_end = 0;
  {
    std::lock_guard<std::mutex> pause{pause_rounds};
    stop_rounds = true;
    prod.flush();
    std::int64_t last = -1;
    poll([&] {
      auto v = received_now();
      bool stable = v == last && v - rx0 >= static_cast<std::int64_t>(prod.delivered.load()) - delivered0;
      last = v;
      return stable;
    }, std::chrono::seconds{60});
    rx_end = last;
    delivered_end = static_cast<std::int64_t>(prod.delivered.load());
  }
  if (rounds.joinable())
    rounds.join();
  r.stats = stats_now();
  r.produced = delivered_end - delivered0;
  r.received = rx_end - rx0;
  auto delta = [&](const std::string& actor, const std::string& name, bool prefix) {
    return counter(r.stats, actor, name, prefix) - counter(before, actor, name, prefix);
  };
  r.read = r.received + delta("kafka_bridge/", "ignored_other_resource", true);
  r.routed = delta("instance_fleet/", "heartbeats", true);
  r.unknown = delta("instance_fleet/", "heartbeats_unknown_instance", true);
  r.dropped = (counters_with_prefix(r.stats, "kafka_bridge/", "dropped_") - counters_with_prefix(before, "kafka_bridge/", "dropped_")) +
              (r.produced - r.received) + static_cast<std::int64_t>(prod.failed.load());
  r.restarts = counters_with_prefix(r.stats, "instance_fleet/", "restarts_") -
               counters_with_prefix(before, "instance_fleet/", "restarts_");
  r.checks = handled(r.stats, "heartbeat_ticker/", "tick", true) - handled(before, "heartbeat_ticker/", "tick", true);
  r.channel_down = delta("heartbeat_ticker/", "channel_down_periods", true);
  r.maintenance = delta("heartbeat_ticker/", "maintenance_periods", true);
  r.consumed_per_s = target / (ms_between(t0, t_consumed) / 1000.0);
  r.drain_ms = ms_between(t_produced, t_consumed);
  r.rss_mb = pid > 0 ? peak_rss_mb(pid) : -1;
  daemon.stop();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse_flags(argc, argv, "heartbeat_bench",
                   {{"--instances", &o.instances}, {"--heartbeats", &o.heartbeats}, {"--rate", &o.rate}}))
    return 2;
  return run_bench("heartbeat_bench", [&] {
    std::printf("heartbeat bench: %zu simulated instances, %zu heartbeats at %.0f/s offered (+1 per instance every 2 s "
                "all along), liveness checks every 10 s; load %s\n",
                o.instances, o.heartbeats, o.rate, load_average().c_str());
    std::printf("  batched mode (orchestrator.batchSize 1000)...\n");
    auto batched = run_mode(o, 1000);
    std::printf("  baseline mode (orchestrator.batchSize 1)...\n");
    auto baseline = run_mode(o, 1);
    for (auto* m : {&batched, &baseline}) {
      std::printf("  %s: %.0f heartbeats/s consumed (drained %.0f ms after the last was produced), produced %lld, "
                  "received %lld, routed to supervisors %lld, unknown instance %lld, dropped %lld, restarts %lld, "
                  "messages read by the %zu consumers %lld, liveness checks %lld (channel down %lld, maintenance %lld), "
                  "daemon peak RSS %.0f MB\n",
                  m == &batched ? "batched " : "baseline", m->consumed_per_s, m->drain_ms,
                  static_cast<long long>(m->produced), static_cast<long long>(m->received),
                  static_cast<long long>(m->routed), static_cast<long long>(m->unknown),
                  static_cast<long long>(m->dropped), static_cast<long long>(m->restarts), m->resources,
                  static_cast<long long>(m->read), static_cast<long long>(m->checks),
                  static_cast<long long>(m->channel_down), static_cast<long long>(m->maintenance), m->rss_mb);
    }
    std::printf("  per-actor figures (/v1/api/stats), batched (kafka_bridge, instance_fleet, heartbeat_ticker):\n");
    json slim = json::object();
    slim["actors"] = json::array();
    for (const auto& a : batched.stats.value("actors", json::array())) {
      auto n = a.value("actor", std::string{});
      if (n == "kafka_bridge/Thing" || n == "instance_fleet/Thing" || n == "heartbeat_ticker/Thing" ||
          n == "kafka_bridge/Hb1" || n == "mqtt_bridge" || n == "stats")
        slim["actors"].push_back(a);
    }
    print_actor_figures(slim);
    std::printf("bench-heartbeat: %zu instances, batched %.0f hb/s, baseline %.0f hb/s, ratio %.2f, dropped %lld, "
                "restarts %lld\n",
                batched.instances, batched.consumed_per_s, baseline.consumed_per_s,
                baseline.consumed_per_s > 0 ? batched.consumed_per_s / baseline.consumed_per_s : 0.0,
                static_cast<long long>(batched.dropped + baseline.dropped),
                static_cast<long long>(batched.restarts + baseline.restarts));
  });
}
