#pragma once
// One per resource type: owns that type's orchestration (a cache of its znodes) and every
// write to it. Events are applied in arrival order; a batch takes everything queued when the
// writer may start one (group commit), and the next batch is applied and sent while the last
// is in flight (pipelining), bounded by the bytes in flight.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "messages/orchestrator.hpp"
#include "model/change_set.hpp"
#include "model/options.hpp"

namespace iota::io {
class zookeeper_store;
class inventory_source;
}  // namespace iota::io

namespace iota::actors {

class decision_log;

struct orchestrator_settings {
  std::string resource;                        // e.g. "Thing"
  model::resource_options options;             // the configured defaults for orchestrate
  std::size_t batch_size = 1000000;            // events per batch; 1 = the seed's behaviour
                                               // (the daemon's default: orchestrator.batchSize)
  // Pipelining: while a batch is written, the next one may start (applied, rendered and
  // sent) once what the last still has to write falls to `pipeline_low_water` bytes, so
  // ZooKeeper is never idle, yet events gather meanwhile and batches grow with the load (each
  // touched instance is rewritten whole, so bigger batches cost fewer bytes per event). With
  // batch_size 1 (the seed's behaviour) one batch is written at a time.
  std::size_t max_batches_in_flight = 2;
  std::size_t pipeline_low_water = 1u << 20;
  std::size_t max_moves_per_step = 0;          // 0 = unlimited
  std::size_t max_queued_events = 1'000'000;   // beyond: refused, counted, logged
  std::size_t max_attempts = 10;               // a batch failing this often is refused
  std::chrono::milliseconds retry_delay{500};  // before re-reading after a failure
  std::size_t multi_budget = model::default_multi_budget;
  // Reconcile (SPEC 9): after the first load, after each new ZooKeeper session and every
  // interval, the inventory is compared with the placed ids. 0 = only on request.
  std::chrono::milliseconds reconcile_interval{0};
  // HA (SPEC 10): true = the daemon runs an election for this type; the orchestrator starts
  // as a follower (reads only) until the leader actor says it leads, and then prepends a
  // `check` of its election znode to every multi (fencing). false (tests, bench, a single
  // daemon without election): it always leads, with no fencing.
  bool elected = false;
  // Start-up (SPEC 10): a write (orchestrate, drain, reconcile) that arrives before the first
  // election and load are decided waits for them this long at most, then is answered as usual.
  std::chrono::milliseconds startup_wait{10000};
  // The decision history (SPEC 14); none in tests that do not look at it.
  std::shared_ptr<decision_log> history;
};

// Spawns the actor and registers it for the store's session events. Works whether or not
// the store is started yet.
msg::orchestrator_actor spawn_resource_orchestrator(caf::actor_system& sys,
                                                    orchestrator_settings settings,
                                                    std::shared_ptr<io::zookeeper_store> store,
                                                    std::shared_ptr<io::inventory_source> inventory);

}  // namespace iota::actors
