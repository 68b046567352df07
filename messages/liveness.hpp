#pragma once
// Liveness (SPEC section 5): the instance supervisors, the per-resource fleet that routes to
// them, the heartbeat ticker and the Kafka bridge.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/stats.hpp"
#include "model/pod_phase.hpp"

namespace iota::msg {

enum class restart_cause : std::uint8_t { heartbeat = 0, phase = 1, missing = 2 };
inline const char* to_string(restart_cause c) {
  return c == restart_cause::heartbeat ? "heartbeat" : c == restart_cause::phase ? "phase" : "missing";
}

// From an orchestrator to its registered listener (the fleet) after a commit.
enum class instance_change : std::uint8_t { added, removed };

// A supervisor's answer to a heartbeat check (its flag is reset by asking).
struct check_result {
  int id = 0;
  bool silent = false;    // no heartbeat since the last check
  bool eligible = false;  // past its grace period and not being restarted
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, check_result& x) {
  return f(caf::meta::type_name("check_result"), x.id, x.silent, x.eligible);
}

struct instance_health {
  int id = 0;
  std::string phase = "Unknown";         // the pod's last known phase
  std::uint32_t restarts = 0;
  std::array<std::uint32_t, 3> restarts_by_cause{};  // heartbeat, phase, missing
  std::int64_t last_heartbeat_ms = 0;    // wall clock; 0 = never
  bool in_grace = false;
  bool maintenance = false;              // the resource is in maintenance mode
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, instance_health& x) {
  return f(caf::meta::type_name("instance_health"), x.id, x.phase, x.restarts, x.restarts_by_cause,
           x.last_heartbeat_ms, x.in_grace, x.maintenance);
}

struct channel_health {
  bool healthy = true;          // the consumer reports no errors
  std::uint64_t heartbeats = 0; // valid heartbeats since the last ask
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, channel_health& x) {
  return f(caf::meta::type_name("channel_health"), x.healthy, x.heartbeats);
}

using supervisor_actor = caf::typed_actor<
  caf::reacts_to<heartbeat_atom, std::int64_t>,
  caf::replies_to<check_atom>::with<check_result>,
  caf::reacts_to<restart_atom, restart_cause>,
  caf::reacts_to<phase_atom, model::pod_phase, std::string>,
  caf::reacts_to<pod_check_atom>,
  caf::replies_to<status_atom>::with<instance_health>,
  caf::reacts_to<stop_atom>>;

using fleet_actor = caf::typed_actor<
  caf::reacts_to<instance_atom, std::string, instance_change, int>,  // from the orchestrator
  caf::reacts_to<heartbeat_atom, int, std::int64_t>,              // from the Kafka bridge
  caf::reacts_to<phase_atom, int, model::pod_phase, std::string>, // from the pod monitor
  caf::reacts_to<pod_check_atom>,
  caf::replies_to<check_atom>::with<std::vector<check_result>>,   // from the ticker
  caf::reacts_to<restart_atom, int, restart_cause>,
  caf::reacts_to<maintenance_atom, bool>,
  caf::replies_to<status_atom>::with<std::vector<instance_health>>,
  caf::replies_to<stats_atom>::with<actor_stats>>;

using kafka_bridge_actor = caf::typed_actor<
  caf::reacts_to<kafka_atom, std::string>,
  caf::reacts_to<kafka_state_atom, bool, std::string>,
  caf::replies_to<channel_atom>::with<channel_health>,
  caf::replies_to<stats_atom>::with<actor_stats>>;

// The heartbeat ticker of one resource: a tick runs one check period.
using ticker_actor = caf::typed_actor<caf::reacts_to<caf::tick_atom>,
                                      caf::replies_to<stats_atom>::with<actor_stats>>;

// The daemon's pod monitor: a tick has every pod checked; a phase change comes from the driver.
using pod_monitor_actor = caf::typed_actor<
  caf::reacts_to<caf::tick_atom>,
  caf::reacts_to<phase_atom, std::string, int, model::pod_phase, std::string>,  // resource, id, phase, detail
  caf::replies_to<stats_atom>::with<actor_stats>>;

}  // namespace iota::msg
