#pragma once
// The per-actor figures as Prometheus text exposition format (version 0.0.4) for /metrics,
// and as JSON for /v1/api/stats.
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "messages/stats.hpp"

namespace iota::actors {

std::string render_prometheus(const std::vector<msg::actor_stats>& stats);

nlohmann::json stats_json(const std::vector<msg::actor_stats>& stats);

}  // namespace iota::actors
