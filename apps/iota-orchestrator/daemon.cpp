#include "apps/iota-orchestrator/daemon.hpp"

#include <csignal>
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

#include "actors/decision_log.hpp"
#include "actors/scheduler.hpp"
#include "actors/heartbeat_ticker.hpp"
#include "actors/http_api.hpp"
#include "actors/instance_fleet.hpp"
#include "actors/kafka_bridge.hpp"
#include "actors/leader.hpp"
#include "actors/pod_monitor.hpp"
#include "actors/mqtt_bridge.hpp"
#include "actors/replay_reconciler.hpp"
#include "actors/resource_orchestrator.hpp"
#include "actors/stats.hpp"
#include "apps/iota-orchestrator/component_settings.hpp"
#include "apps/iota-orchestrator/stop_stack.hpp"
#include "config/settings.hpp"
#include "io/files.hpp"
#include "io/inventory.hpp"
#include "io/http_server.hpp"
#include "io/kafka_consumer.hpp"
#include "io/log.hpp"
#include "io/memory.hpp"
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

// One resource type's heartbeat consumer: started when this daemon leads, stopped while it
// is suspended, started afresh (a new librdkafka consumer in the same group) when it resumes.
struct heartbeat_consumer {
  io::kafka_consumer_settings settings;
  msg::kafka_bridge_actor bridge;
  std::unique_ptr<io::kafka_consumer> current;

  void start() {
    if (current)
      return;
    current = io::make_kafka_consumer(settings);
    auto kbridge = bridge;
    current->start(
      [kbridge](std::string value) { caf::anon_send(kbridge, msg::kafka_atom::value, std::move(value)); },
      [kbridge](bool healthy, const std::string& detail) {
        caf::anon_send(kbridge, msg::kafka_state_atom::value, healthy, detail);
      });
  }
  void stop() {
    if (current)
      current->stop();
    current.reset();
  }
};

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

}  // namespace

int run_daemon(int argc, char** argv) {
  io::limit_allocator_arenas();
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
  actors::tune_scheduler(caf_cfg);
  caf::actor_system sys{caf_cfg};

  // The journal is read before anything runs: what it holds past its mark is replayed first.
  std::vector<io::journal_record> replay;
  std::shared_ptr<io::notify_journal> journal;
  try {
    journal = std::make_shared<io::notify_journal>(journal_settings_of(cfg), replay);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  std::string auth_error;
  auto auth = io::http_auth::make({cfg.http.tokens_file, cfg.http.protect_reads}, auth_error);
  if (!auth) {
    std::cerr << "config: " << auth_error << "\n";
    return 2;
  }
  std::string driver_error;
  auto driver = make_driver(cfg, driver_error);
  if (!driver) {
    std::cerr << "driver: " << driver_error << "\n";
    return 2;
  }

  // Each component goes on the stack as it starts; it is stopped in reverse order on every
  // way out of this function.
  stop_stack started;
  auto stop_actor = [](auto hdl) {
    return [a = caf::actor_cast<caf::actor>(hdl)] { caf::anon_send_exit(a, caf::exit_reason::user_shutdown); };
  };

  // The store is created unconnected: the orchestrators register for its session events first.
  auto store = io::make_zookeeper_store(cfg.zookeeper, cfg.zookeeper_session_timeout);
  started.push("zookeeper store", [store] { store->stop(); });
  started.push("instance driver", [driver] { driver->stop(); });  // stops every worker it started
  auto stats = actors::spawn_stats(sys);
  started.push("stats", stop_actor(stats));
  auto report_to_stats = [&](auto hdl) {
    caf::anon_send(stats, msg::register_atom::value, caf::actor_cast<caf::actor>(hdl));
  };

  // SPEC 14: what the orchestrators, supervisors and the bridge decide, and why.
  auto history = std::make_shared<actors::decision_log>(cfg.history_events_per_resource);
  std::map<std::string, msg::orchestrator_actor> orchestrators;
  actors::http_api_settings api_cfg;
  api_cfg.stats = stats;
  api_cfg.request_timeout = cfg.http.request_timeout;
  api_cfg.auth = auth;
  api_cfg.history = history;
  for (auto& r : cfg.resources) {
    auto os = orchestrator_settings_of(cfg, r);
    os.history = history;
    auto a = actors::spawn_resource_orchestrator(sys, os, store, inventories[r.resource]);
    started.push("orchestrator " + r.resource, stop_actor(a));
    report_to_stats(a);
    orchestrators.emplace(r.resource, a);
    api_cfg.resources.emplace(r.resource, actors::api_resource{a, r.instance_name, r.options, {}});
    log::info("daemon", "orchestrator for " + r.resource + " started (inventory " +
                          (inventories[r.resource] ? inventories[r.resource]->describe()
                                                   : std::string{"none"}) +
                          ")");
  }

  // The instance side: a fleet of supervisors per resource, heartbeats for those with
  // `heart`, and the pod monitor.
  std::map<std::string, msg::fleet_actor> fleets;
  std::vector<std::shared_ptr<heartbeat_consumer>> consumers;
  for (auto& r : cfg.resources) {
    driver->add_template(r.resource, r.instance_name, io::read_file(r.template_file).value_or(""));
    auto fs = fleet_settings_of(cfg, r);
    fs.supervisor.history = history;
    auto fleet = actors::spawn_instance_fleet(sys, fs, driver);
    started.push("fleet " + r.resource, stop_actor(fleet));
    report_to_stats(fleet);
    fleets.emplace(r.resource, fleet);
    api_cfg.resources[r.resource].fleet = fleet;
    if (!r.heart)
      continue;
    auto kbridge = actors::spawn_kafka_bridge(sys, r.resource, fleet);
    started.push("kafka bridge " + r.resource, stop_actor(kbridge));
    report_to_stats(kbridge);
    auto ticker = actors::spawn_heartbeat_ticker(sys, ticker_settings_of(cfg, r), fleet, kbridge);
    started.push("heartbeat ticker " + r.resource, stop_actor(ticker));
    report_to_stats(ticker);
    auto consumer = std::make_shared<heartbeat_consumer>(heartbeat_consumer{kafka_settings_of(cfg, r), kbridge, nullptr});
    started.push("kafka consumer " + r.resource, [consumer] { consumer->stop(); });
    // Started only once this daemon leads (below): the consumers of all daemons share the
    // group id, so a follower's consumer would take the HeartBeat partitions from the
    // leader, which would then see a dead channel and never restart a silent worker.
    consumers.push_back(consumer);
  }
  auto monitor = actors::spawn_pod_monitor(sys, cfg.liveness.pod_check_period, fleets, driver);
  started.push("pod monitor", stop_actor(monitor));
  report_to_stats(monitor);
  // The orchestrators tell the fleets which instances exist (and catch them up on register).
  for (auto& [name, orch] : orchestrators)
    caf::anon_send(orch, msg::register_atom::value, caf::actor_cast<caf::actor>(fleets.at(name)));

  std::vector<msg::orchestrator_actor> all_orchestrators;
  for (auto& [_, orch] : orchestrators)
    all_orchestrators.push_back(orch);
  auto replay_reconciler = actors::spawn_replay_reconciler(sys, all_orchestrators);
  started.push("replay reconciler", stop_actor(replay_reconciler));
  auto bridge_cfg = bridge_settings_of(cfg);
  bridge_cfg.history = history;
  for (auto& rec : replay)
    bridge_cfg.replay_until = std::max(bridge_cfg.replay_until, rec.seq);
  bridge_cfg.replay_listener = replay_reconciler;
  // The intake (journal, window, MQTT client) is started only once this daemon leads; the
  // bridge settles with it what became durable.
  auto intake = std::make_shared<io::notify_intake>(journal, std::make_shared<io::intake_window>(cfg.mqtt.window),
                                                    [mqtt = mqtt_settings_of(cfg)] { return io::make_mqtt_client(mqtt); });
  auto bridge = actors::spawn_mqtt_bridge(sys, bridge_cfg, orchestrators, intake);
  started.push("mqtt bridge", stop_actor(bridge));
  report_to_stats(bridge);

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
    bool suspended = false;
    bool stop = false;
  };
  auto leading = std::make_shared<leadership_signal>();
  auto ls = leader_settings_of(cfg);
  ls.on_leads_all = [leading, replay_reconciler](bool all) {
    caf::anon_send(replay_reconciler, msg::leads_all_atom::value, all);
    {
      std::lock_guard<std::mutex> g{leading->m};
      leading->leads_all = all;
    }
    leading->cv.notify_all();
  };
  ls.on_suspended = [leading](bool suspended) {
    {
      std::lock_guard<std::mutex> g{leading->m};
      leading->suspended = suspended;
    }
    leading->cv.notify_all();
  };
  auto leader = actors::spawn_leader(sys, ls, store, orchestrators);
  started.push("leader", stop_actor(leader));
  report_to_stats(leader);
  store->start();

  auto api = actors::spawn_http_api(sys, api_cfg);
  started.push("http api", stop_actor(api));
  report_to_stats(api);
  std::shared_ptr<io::http_server> http = io::make_http_server(
    http_server_settings_of(cfg, api_cfg.orchestrate_timeout + std::chrono::seconds{5}),
    actors::make_http_handler(api, IOTA_WEB_DIR, auth));
  std::string http_error;
  if (!http->start(http_error)) {
    std::cerr << "http: cannot listen on " << cfg.http.listen << ": " << http_error << "\n";
    return cfg.http.tls_cert.empty() ? 1 : 2;  // an unusable certificate is a config error
  }
  started.push("http server", [http] { http->stop(); });
  log::info("daemon", std::string{"dashboard on "} + (cfg.http.tls_cert.empty() ? "http" : "https") + "://" +
                        cfg.http.listen + "/ (port " +
                        std::to_string(http->port()) + ")");

  // Second to stop: hand leadership over before the workers and the rest are stopped.
  started.push("election (resign)", [&sys, leader, store] {
    actors::resign(sys, leader, *store, std::chrono::seconds{2});
  });
  // First to stop: no new notifies; what is journaled but not durable is replayed next start.
  started.push("notify intake", [intake] { intake->stop(); });
  std::atomic<bool> restart{false};
  log::info("daemon", "iota-orchestrator " IOTA_VERSION " running; ZooKeeper " + cfg.zookeeper +
                        ", MQTT " + cfg.mqtt.brokers + " topic " + cfg.mqtt.topic +
                        "; the notify intake starts once this daemon leads every resource type");
  // Starts the intake when this daemon leads every type; on losing that, restarts the daemon.
  // Its own thread: it waits on a condition, which a CAF worker must not.
  std::thread intake_control([&, leading] {
    {
      std::unique_lock<std::mutex> lk{leading->m};
      leading->cv.wait(lk, [&] { return leading->stop || leading->leads_all; });
      if (leading->stop)
        return;
    }
    log::info("daemon", "leading every resource type: starting the heartbeat consumers and the notify intake");
    for (auto& c : consumers)
      c->start();
    intake->start(
      std::move(replay),
      [bridge](std::uint64_t seq, std::string payload) {
        caf::anon_send(bridge, msg::notify_atom::value, seq, std::move(payload));
      },
      [bridge](bool connected, const std::string& detail) {
        caf::anon_send(bridge, msg::mqtt_state_atom::value, connected, detail);
      });
    // Suspended (ZooKeeper away for about a session timeout, SPEC 10): the intake pauses, so
    // that a daemon elected meanwhile gets the broker session alone; workers keep running.
    std::unique_lock<std::mutex> lk{leading->m};
    bool paused = false;
    for (;;) {
      leading->cv.wait(lk, [&] { return leading->stop || !leading->leads_all || leading->suspended != paused; });
      if (leading->stop || !leading->leads_all)
        break;
      paused = leading->suspended;
      lk.unlock();
      // The heartbeat consumers too: they share their group with a daemon elected meanwhile,
      // which must get every partition (a period without heartbeats restarts nobody).
      if (paused) {
        log::warn("daemon", "ZooKeeper away for about a session timeout: pausing the notify intake and the "
                            "heartbeat consumers; workers keep running");
        intake->pause();
        for (auto& c : consumers)
          c->stop();
      } else {
        log::info("daemon", "ZooKeeper back in the same session, still leading: resuming the notify intake "
                            "and the heartbeat consumers");
        for (auto& c : consumers)
          c->start();
        intake->resume();
      }
      lk.lock();
    }
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
  started.stop_all();
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
