#include "apps/iota-orchestrator/daemon.hpp"

#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <pthread.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>

#include "actors/resource_orchestrator.hpp"
#include "actors/stats.hpp"
#include "config/settings.hpp"
#include "io/inventory.hpp"
#include "io/log.hpp"
#include "io/zookeeper_store.hpp"

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

std::shared_ptr<io::inventory_source> make_inventory(const config::resource_settings& r) {
  if (!r.inventory.file.empty())
    return io::make_file_inventory(r.inventory.file);
  return nullptr;
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
  for (auto& r : cfg.resources)
    if (!r.inventory.postgres.empty()) {
      std::cerr << "config: resources[" << r.resource
                << "].inventory.postgres: the PostgreSQL inventory is not built yet; use "
                   "inventory.file\n";
      return 2;
    }

  auto stop_signals = block_stop_signals();

  caf::actor_system_config caf_cfg;
  caf_cfg.set("logger.file-verbosity", caf::atom("quiet"));
  caf_cfg.set("logger.console-verbosity", caf::atom("quiet"));
  caf::actor_system sys{caf_cfg};

  // Start order: store (not yet connected) -> stats -> orchestrators -> connect.
  auto store = io::make_zookeeper_store(cfg.zookeeper);
  auto stats = actors::spawn_stats(sys);
  std::map<std::string, msg::orchestrator_actor> orchestrators;
  for (auto& r : cfg.resources) {
    actors::orchestrator_settings s;
    s.resource = r.resource;
    s.options = r.options;
    s.batch_size = cfg.orchestrator.batch_size;
    s.max_moves_per_step = cfg.orchestrator.max_moves_per_step;
    s.max_queued_events = cfg.orchestrator.max_queued_events;
    auto a = actors::spawn_resource_orchestrator(sys, s, store, make_inventory(r));
    caf::anon_send(stats, msg::register_atom::value, caf::actor_cast<caf::actor>(a));
    orchestrators.emplace(r.resource, a);
    log::info("daemon", "orchestrator for " + r.resource + " started (inventory " +
                          r.inventory.file + ")");
  }
  store->start();
  log::info("daemon", "iota-orchestrator " IOTA_VERSION " running; ZooKeeper " + cfg.zookeeper);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::info("daemon", std::string{"stopping on "} + (sig == SIGINT ? "SIGINT" : "SIGTERM"));

  // Stop order: actors first (no new io), then the store (its callbacks end), then the system.
  for (auto& [_, a] : orchestrators)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(stats, caf::exit_reason::user_shutdown);
  store->stop();
  log::info("daemon", "stopped");
  return 0;
}

}  // namespace iota::apps
