#pragma once
// Parses each notify, routes it by table to the orchestrator of that resource type (or, for a
// dependency table, as reload-all to each dependent resource), and settles it with the intake
// (its window slot back, the journal's durable mark moved) once every orchestrator it went to
// has acknowledged. Malformed, unknown-table and
// unhandled notifies are counted per reason, logged once per reason with a sample, and dropped.
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "messages/mqtt_bridge.hpp"
#include "messages/orchestrator.hpp"
#include "model/notify.hpp"

namespace iota::io {
class notify_settlement;
}  // namespace iota::io

namespace iota::actors {

class decision_log;

struct mqtt_bridge_settings {
  model::routing_table routing;
  model::notify_limits limits;
  std::chrono::milliseconds retry_delay{1000};
  // The last journal seq replayed at start (0: none) and who learns once it is durable.
  std::uint64_t replay_until = 0;
  msg::replay_reconciler_actor replay_listener;
  std::shared_ptr<decision_log> history;  // SPEC 14: dropped notifies; may be null
};

msg::mqtt_bridge_actor spawn_mqtt_bridge(caf::actor_system& sys, mqtt_bridge_settings settings,
                                         std::map<std::string, msg::orchestrator_actor> orchestrators,
                                         std::shared_ptr<io::notify_settlement> intake);

}  // namespace iota::actors
