#pragma once
// The stats actor: knows every actor that reports figures and gathers them on request
// (for /v1/api/stats and /metrics). Its interface is msg::stats_actor.
#include <caf/fwd.hpp>

#include "messages/stats.hpp"

namespace iota::actors {

msg::stats_actor spawn_stats(caf::actor_system& sys);

}  // namespace iota::actors
