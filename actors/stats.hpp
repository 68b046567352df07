#pragma once
// The stats actor: knows every actor that reports figures and gathers them on request
// (for /v1/api/stats and /metrics).
#include <vector>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/stats.hpp"

namespace iota::actors {

using stats_actor = caf::typed_actor<
  caf::reacts_to<msg::register_atom, caf::actor>,  // an actor answering stats_atom with actor_stats
  caf::replies_to<msg::stats_atom>::with<std::vector<msg::actor_stats>>>;

stats_actor spawn_stats(caf::actor_system& sys);

}  // namespace iota::actors
