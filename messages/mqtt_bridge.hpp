#pragma once
// The mqtt_bridge's typed interface.
#include <cstdint>
#include <string>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/stats.hpp"

namespace iota::msg {

using mqtt_bridge_actor = caf::typed_actor<
  caf::reacts_to<notify_atom, std::uint64_t, std::string>,  // journal seq, payload
  caf::reacts_to<mqtt_state_atom, bool, std::string>,
  caf::replies_to<stats_atom>::with<actor_stats>,
  // internal: the events gathered from the notifies ahead of it in the mailbox go out
  caf::reacts_to<flush_atom>,
  // internal: events the orchestrator refused for now, tried again
  caf::reacts_to<retry_atom, std::uint64_t>>;

// Reconciles every type once the journal replay of this start is durable, while this daemon
// leads every type (actors/replay_reconciler.hpp).
using replay_reconciler_actor = caf::typed_actor<
  caf::reacts_to<leads_all_atom, bool>,      // from the leader actor's callback
  caf::reacts_to<replay_durable_atom>>;      // from the bridge

}  // namespace iota::msg
