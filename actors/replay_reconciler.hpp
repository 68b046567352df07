#pragma once
// A journal replay at start may be stale: another daemon may have led meanwhile and deleted
// ids that these old creates bring back. The takeover reconcile ran while the replay was in
// flight (and keeps what notifies did during its inventory load), so once the replay is
// durable one more reconcile, with a snapshot taken after it, removes what the inventory no
// longer has. This actor asks for it: once the bridge says the replay is durable, while this
// daemon leads every resource type, and only once.
#include <vector>

#include <caf/fwd.hpp>

#include "messages/mqtt_bridge.hpp"
#include "messages/orchestrator.hpp"

namespace iota::actors {

msg::replay_reconciler_actor spawn_replay_reconciler(
  caf::actor_system& sys, std::vector<msg::orchestrator_actor> orchestrators);

}  // namespace iota::actors
