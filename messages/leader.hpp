#pragma once
// The leader actor's typed interface (SPEC section 10).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/orchestrator.hpp"
#include "messages/stats.hpp"

namespace iota::msg {

using leader_actor = caf::typed_actor<
  caf::replies_to<stats_atom>::with<actor_stats>,
  // per resource type, as leadership of it is known: index in the configured order
  caf::replies_to<status_atom>::with<std::vector<leadership>>>;
// Its session events, io results and timer extend it privately (actors/leader.cpp).

}  // namespace iota::msg
