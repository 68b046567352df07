#include "apps/iota-orchestrator/daemon.hpp"

#include <climits>
#include <csignal>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <pthread.h>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <algorithm>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <stdexcept>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>
#include <nlohmann/json.hpp>

#include "actors/heartbeat_ticker.hpp"
#include "actors/http_api.hpp"
#include "actors/instance_fleet.hpp"
#include "actors/kafka_bridge.hpp"
#include "actors/leader.hpp"
#include "actors/pod_monitor.hpp"
#include "actors/mqtt_bridge.hpp"
#include "actors/resource_orchestrator.hpp"
#include "actors/stats.hpp"
#include "config/settings.hpp"
#include "io/inventory.hpp"
#include "io/http_server.hpp"
#include "io/kafka_consumer.hpp"
#include "io/kubernetes_driver.hpp"
#include "io/local_process_driver.hpp"
#include "io/log.hpp"
#include "io/mqtt_client.hpp"
#include "io/notify_intake.hpp"
#include "io/notify_journal.hpp"
#include "io/zookeeper_store.hpp"

#ifndef IOTA_WEB_DIR
#define IOTA_WEB_DIR "web"
#endif

#ifndef IOTA_VERSION
#define IOTA_VERSION "0.0.0"
#endif

namespace iota::apps {

namespace {

// Blocks the stop signals in every thread (threads inherit the mask), so that only the
// main thread's sigwait() sees them.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// A file or a PostgreSQL query (SPEC section 13). Throws std::invalid_argument for a conninfo
// libpq cannot parse (the message redacts the password).
std::shared_ptr<io::inventory_source> make_inventory(const config::resource_settings& r) {
  if (!r.inventory.postgres.empty())
    return io::make_postgres_inventory(r.inventory.postgres, r.inventory.query);
  if (!r.inventory.file.empty())
    return io::make_file_inventory(r.inventory.file);
  return nullptr;
}

std::string read_text(const std::string& path) {
  std::ifstream in{path};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The daemon's own directory: the local driver finds iota-instance there first.
std::string own_dir() {
  char buf[PATH_MAX];
  auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0)
    return ".";
  std::string path(buf, static_cast<std::size_t>(n));
  return path.substr(0, path.rfind('/'));
}

std::shared_ptr<io::instance_driver> make_driver(const config::settings& cfg, std::string& error) {
  if (cfg.driver == "kubernetes") {
    io::kubernetes_settings k;
    k.url = cfg.kubernetes.url;
    k.namespace_name = cfg.kubernetes.namespace_name;
    k.token = cfg.kubernetes.token;
    k.insecure_skip_tls_verify = cfg.kubernetes.insecure_skip_tls_verify;
    k.run_in_pod = cfg.kubernetes.run_in_pod;
    if (k.run_in_pod)
      k = io::in_cluster(k, {}, &error);
    if (!error.empty())
      return nullptr;
    return io::make_kubernetes_driver(k);
  }
  io::local_driver_settings l;
  l.log_dir = cfg.local_driver.log_dir;
  l.bin_dir = cfg.local_driver.bin_dir.empty() ? own_dir() : cfg.local_driver.bin_dir;
  l.env_overrides = {{"IOTA_ZOOKEEPER", cfg.zookeeper}, {"IOTA_KAFKA_BROKERS", cfg.kafka.brokers}};
  return io::make_local_process_driver(l);
}

model::routing_table routing_of(const config::settings& cfg) {
  model::routing_table t;
  for (auto& r : cfg.resources) {
    t.resources.insert(r.resource);
    for (auto& dep : r.depends_on)
      t.dependents[dep].push_back(r.resource);
  }
  return t;
}

}  // namespace

int run_daemon(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto loaded = config::load_settings(args, config::process_env());
  if (loaded.help) {
    std::cout << config::usage();
    return 0;
  }
  if (loaded.version) {
    std::cout << "iota-orchestrator " << IOTA_VERSION << "\n";
    return 0;
  }
  if (!loaded.value) {
    std::cerr << loaded.error << "\n";
    return 2;
  }
  auto& cfg = *loaded.value;
  log::set_level(cfg.log_level);
  for (auto& w : cfg.warnings)
    log::warn("config", w);
  // Inventories are built before anything runs: a conninfo libpq cannot parse is a config error.
  std::map<std::string, std::shared_ptr<io::inventory_source>> inventories;
  for (auto& r : cfg.resources) {
    try {
      inventories[r.resource] = make_inventory(r);
    } catch (const std::invalid_argument& e) {
      std::cerr << "config: resources[" << r.resource << "].inventory.postgres: " << e.what()
                << "\n";
      return 2;
    }
  }

  auto stop_signals = block_stop_signals();

  caf::actor_system_config caf_cfg;
  caf_cfg.set("logger.file-verbosity", caf::atom("quiet"));
  caf_cfg.set("logger.console-verbosity", caf::atom("quiet"));
  caf::actor_system sys{caf_cfg};

  // The journal is read before anything runs: what it holds past its mark is replayed first.
  std::vector<io::journal_record> replay;
  std::shared_ptr<io::notify_journal> journal;
  try {
    io::journal_settings js;
    js.dir = cfg.mqtt.journal_dir;
    js.sync = cfg.mqtt.journal_sync;
    journal = std::make_shared<io::notify_journal>(js, replay);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  auto window = std::make_shared<io::intake_window>(cfg.mqtt.window);

  // Start order: store (not yet connected) -> stats -> orchestrators -> connect.
  auto store = io::make_zookeeper_store(cfg.zookeeper);
  auto stats = actors::spawn_stats(sys);
  std::map<std::string, msg::orchestrator_actor> orchestrators;
  actors::http_api_settings api_cfg;
  api_cfg.stats = stats;
  api_cfg.request_timeout = cfg.http.request_timeout;
  for (auto& r : cfg.resources) {
    actors::orchestrator_settings s;
    s.resource = r.resource;
    s.options = r.options;
    s.batch_size = cfg.orchestrator.batch_size;
    s.max_moves_per_step = cfg.orchestrator.max_moves_per_step;
    s.max_queued_events = cfg.orchestrator.max_queued_events;
    s.reconcile_interval = cfg.reconcile_interval;
    s.elected = true;  // HA: writes only while the leader actor says this daemon leads
    auto a = actors::spawn_resource_orchestrator(sys, s, store, inventories[r.resource]);
    caf::anon_send(stats, msg::register_atom::value, caf::actor_cast<caf::actor>(a));
    orchestrators.emplace(r.resource, a);
    api_cfg.resources.emplace(r.resource, actors::api_resource{a, r.instance_name, r.options, {}});
    log::info("daemon", "orchestrator for " + r.resource + " started (inventory " +
                          (inventories[r.resource] ? inventories[r.resource]->describe()
                                                   : std::string{"none"}) +
                          ")");
  }
  // The instance side: a driver, a fleet of supervisors per resource, heartbeats for those
  // with `heart`, and the pod monitor.
  std::string driver_error;
  auto driver = make_driver(cfg, driver_error);
  if (!driver) {
    std::cerr << "driver: " << driver_error << "\n";
    return 2;
  }
  std::map<std::string, msg::fleet_actor> fleets;
  std::vector<std::unique_ptr<io::kafka_consumer>> consumers;
  std::vector<std::function<void()>> start_consumers;
  std::vector<caf::actor> liveness_actors;
  for (auto& r : cfg.resources) {
    driver->add_template(r.resource, r.instance_name, read_text(r.template_file));
    actors::fleet_settings fs;
    fs.resource = r.resource;
    fs.instance_name = r.instance_name;
    fs.supervisor.grace_period = cfg.liveness.grace_period;
    fs.supervisor.max_backoff = cfg.liveness.max_backoff;
    fs.supervisor.first_backoff = cfg.liveness.first_backoff;
    auto fleet = actors::spawn_instance_fleet(sys, fs, driver);
    fleets.emplace(r.resource, fleet);
    liveness_actors.push_back(caf::actor_cast<caf::actor>(fleet));
    api_cfg.resources[r.resource].fleet = fleet;
    if (r.heart) {
      auto kbridge = actors::spawn_kafka_bridge(sys, r.resource, fleet);
      actors::ticker_settings ts;
      ts.resource = r.resource;
      ts.period = cfg.liveness.heartbeat_period;
      ts.max_offline_fraction = cfg.liveness.max_offline_fraction;
      auto ticker = actors::spawn_heartbeat_ticker(sys, ts, fleet, kbridge);
      liveness_actors.push_back(caf::actor_cast<caf::actor>(kbridge));
      liveness_actors.push_back(caf::actor_cast<caf::actor>(ticker));
      io::kafka_consumer_settings ks;
      ks.brokers = cfg.kafka.brokers;
      ks.topic = cfg.kafka.topic;
      ks.group_id = "iota-orchestrator-" + r.resource;
      auto consumer = io::make_kafka_consumer(ks);
      // Started only once this daemon leads (below): the consumers of all daemons share the
      // group id, so a follower's consumer would take the HeartBeat partitions from the
      // leader, which would then see a dead channel and never restart a silent worker.
      start_consumers.push_back([c = consumer.get(), kbridge] {
        c->start(
          [kbridge](std::string value) { caf::anon_send(kbridge, msg::kafka_atom::value, std::move(value)); },
          [kbridge](bool healthy, const std::string& detail) {
            caf::anon_send(kbridge, msg::kafka_state_atom::value, healthy, detail);
          });
      });
      consumers.push_back(std::move(consumer));
    }
  }
  auto monitor = actors::spawn_pod_monitor(sys, cfg.liveness.pod_check_period, fleets, driver);
  liveness_actors.push_back(caf::actor_cast<caf::actor>(monitor));
  for (auto& a : liveness_actors)
    caf::anon_send(stats, msg::register_atom::value, a);
  // The orchestrators tell the fleets which instances exist (and catch them up on register).
  for (auto& [name, orch] : orchestrators)
    caf::anon_send(orch, msg::register_atom::value, caf::actor_cast<caf::actor>(fleets.at(name)));

  actors::mqtt_bridge_settings bridge_cfg;
  bridge_cfg.routing = routing_of(cfg);
  bridge_cfg.limits.max_payload_bytes = cfg.mqtt.max_payload_bytes;
  bridge_cfg.limits.max_ids = cfg.mqtt.max_ids_per_notify;
  auto bridge = actors::spawn_mqtt_bridge(sys, bridge_cfg, orchestrators, journal, window);
  caf::anon_send(stats, msg::register_atom::value, caf::actor_cast<caf::actor>(bridge));

  // HA (SPEC 10): one election per resource type. The notify intake (one MQTT session, the
  // configured clientId) runs only while this daemon leads every type: a follower never
  // takes notifies it could not apply, and while nobody holds the session the broker queues
  // them for it (persistent session), so none is lost in a failover; the new leader connects
  // with the same clientId and receives them. A daemon that loses leadership after its intake
  // ran stops cleanly and starts itself again (exec) as a candidate: that drops its MQTT
  // session and stops its workers (the local driver's workers are its children), so two
  // daemons never both take notifies or both run workers.
  struct leadership_signal {
    std::mutex m;
    std::condition_variable cv;
    bool leads_all = false;
    bool stop = false;
  };
  auto leading = std::make_shared<leadership_signal>();
  actors::leader_settings ls;
  for (auto& r : cfg.resources)
    ls.resources.push_back(r.resource);
  {
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    nlohmann::json who = {{"daemon", std::string{host} + ":" + std::to_string(::getpid())},
                          {"http", cfg.http.listen}};
    ls.data = who.dump();
  }
  ls.on_leads_all = [leading](bool all) {
    {
      std::lock_guard<std::mutex> g{leading->m};
      leading->leads_all = all;
    }
    leading->cv.notify_all();
  };
  auto leader = actors::spawn_leader(sys, ls, store, orchestrators);
  caf::anon_send(stats, msg::register_atom::value, caf::actor_cast<caf::actor>(leader));
  store->start();

  auto api = actors::spawn_http_api(sys, api_cfg);
  caf::anon_send(stats, msg::register_atom::value, caf::actor_cast<caf::actor>(api));
  io::http_server_settings hs;
  hs.listen = cfg.http.listen;
  hs.body_limit = cfg.http.body_limit;
  hs.cors_origins = cfg.http.cors_origins;
  hs.response_timeout = api_cfg.orchestrate_timeout + std::chrono::seconds{5};
  auto http = io::make_http_server(hs, actors::make_http_handler(api, IOTA_WEB_DIR));
  std::string http_error;
  if (!http->start(http_error)) {
    std::cerr << "http: cannot listen on " << cfg.http.listen << ": " << http_error << "\n";
    for (auto& [_, a] : orchestrators)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    for (auto& a : liveness_actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    for (auto a : {caf::actor_cast<caf::actor>(api), caf::actor_cast<caf::actor>(bridge),
                   caf::actor_cast<caf::actor>(stats), caf::actor_cast<caf::actor>(leader)})
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    for (auto& c : consumers)
      c->stop();
    driver->stop();
    store->stop();
    return 1;
  }
  log::info("daemon", "dashboard on http://" + cfg.http.listen + "/ (port " +
                        std::to_string(http->port()) + ")");

  io::mqtt_settings ms;
  ms.brokers = io::parse_broker_urls(cfg.mqtt.brokers);
  ms.client_id = cfg.mqtt.client_id;
  ms.topic = cfg.mqtt.topic;
  ms.reconnect_period = cfg.mqtt.reconnect_period;
  ms.persistence_dir = cfg.mqtt.journal_dir + "/paho";
  io::notify_intake intake{journal, window, io::make_mqtt_client(ms)};
  std::atomic<bool> restart{false};
  log::info("daemon", "iota-orchestrator " IOTA_VERSION " running; ZooKeeper " + cfg.zookeeper +
                        ", MQTT " + cfg.mqtt.brokers + " topic " + cfg.mqtt.topic +
                        "; the notify intake starts once this daemon leads every resource type");
  // Starts the intake when this daemon leads every type; on losing that, restarts the daemon.
  std::thread intake_control([&, leading] {
    {
      std::unique_lock<std::mutex> lk{leading->m};
      leading->cv.wait(lk, [&] { return leading->stop || leading->leads_all; });
      if (leading->stop)
        return;
    }
    log::info("daemon", "leading every resource type: starting the heartbeat consumers and the notify intake");
    for (auto& start_consumer : start_consumers)
      start_consumer();
    std::uint64_t last_replayed = 0;
    for (auto& rec : replay)
      last_replayed = std::max(last_replayed, rec.seq);
    intake.start(
      std::move(replay),
      [bridge](std::uint64_t seq, std::string payload) {
        caf::anon_send(bridge, msg::notify_atom::value, seq, std::move(payload));
      },
      [bridge](bool connected, const std::string& detail) {
        caf::anon_send(bridge, msg::mqtt_state_atom::value, connected, detail);
      });
    std::unique_lock<std::mutex> lk{leading->m};
    // The journal's replay may be stale: another daemon may have led meanwhile and deleted ids
    // these old creates bring back. The takeover reconcile ran while the replay was in flight
    // and keeps what notifies did during its inventory load, so once the replay is durable one
    // more reconcile, with a snapshot taken after it, removes what the inventory no longer has.
    if (last_replayed > 0) {
      while (!leading->cv.wait_for(lk, std::chrono::milliseconds{100},
                                   [&] { return leading->stop || !leading->leads_all; })) {
        if (journal->committed() >= last_replayed) {
          log::info("daemon", "journal replay durable: reconciling every resource type");
          for (auto& [_, orch] : orchestrators)
            caf::anon_send(orch, msg::reconcile_atom::value);
          break;
        }
      }
    }
    leading->cv.wait(lk, [&] { return leading->stop || !leading->leads_all; });
    if (leading->stop)
      return;
    log::warn("daemon", "leadership lost: stopping and starting again as a candidate");
    restart = true;
    ::kill(::getpid(), SIGTERM);
  });

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::info("daemon", std::string{"stopping on "} + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
  {
    std::lock_guard<std::mutex> g{leading->m};
    leading->stop = true;
  }
  leading->cv.notify_all();
  intake_control.join();

  // Stop order: intake first (no new notifies; what is journaled but not durable is replayed
  // next start), then the actors, then the store (its callbacks end), then the system.
  intake.stop();
  caf::anon_send_exit(leader, caf::exit_reason::user_shutdown);
  http->stop();
  caf::anon_send_exit(api, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(bridge, caf::exit_reason::user_shutdown);
  for (auto& [_, a] : orchestrators)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  for (auto& a : liveness_actors)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(stats, caf::exit_reason::user_shutdown);
  for (auto& c : consumers)
    c->stop();
  driver->stop();  // the local driver stops every worker it started: no orphans
  store->stop();
  log::info("daemon", "stopped");
  if (restart) {
    sys.await_all_actors_done();
    log::info("daemon", "restarting (exec) to rejoin the election");
    std::vector<char*> again(argv, argv + argc);
    again.push_back(nullptr);
    ::execv("/proc/self/exe", again.data());
    log::error("daemon", std::string{"exec failed: "} + std::strerror(errno));
    return 1;
  }
  return 0;
}

}  // namespace iota::apps
