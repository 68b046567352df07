#include "model/status.hpp"

#include <nlohmann/json.hpp>

namespace iota::model {

orchestration_status snapshot(const std::string& resource, const orchestration& state) {
  orchestration_status s;
  s.resource = resource;
  s.resources = state.resources();
  s.instances.reserve(state.instances().size());
  for (auto& [id, inst] : state.instances())
    s.instances.push_back(instance_status{id, inst.used(), inst.capacity, inst.reload_times});
  return s;
}

nlohmann::json to_json(const orchestration_status& s) {
  auto instances = nlohmann::json::array();
  for (auto& i : s.instances)
    instances.push_back({{"id", std::to_string(i.id)},
                         {"used", i.used},
                         {"count", i.count},
                         {"reloadTimes", i.reload_times}});
  nlohmann::json out = {{"resource", s.resource},
                        {"orchestrating", s.orchestrating},
                        {"orchestrateSuccess", s.orchestrate_success},
                        {"resources", s.resources},
                        {"ready", s.ready},
                        {"queuedEvents", s.queued_events},
                        {"instances", std::move(instances)}};
  if (!s.last_error.empty())
    out["lastError"] = s.last_error;
  return out;
}

nlohmann::json to_json(const orchestrate_plan& p, std::size_t max_listed_moves) {
  auto ids = [](const std::vector<instance_id>& v) {
    auto a = nlohmann::json::array();
    for (auto id : v)
      a.push_back(std::to_string(id));
    return a;
  };
  auto moves = nlohmann::json::array();
  for (std::size_t i = 0; i < p.moves.size() && i < max_listed_moves; ++i)
    moves.push_back({{"id", p.moves[i].id},
                     {"from", std::to_string(p.moves[i].from)},
                     {"to", std::to_string(p.moves[i].to)}});
  return {{"instances", p.target.instances},
          {"resourcePerInstance", p.target.capacity},
          {"kept", ids(p.kept)},
          {"added", ids(p.added)},
          {"drained", ids(p.drained)},
          {"moveCount", p.moves.size()},
          {"moves", std::move(moves)},
          {"movesTruncated", p.moves.size() > max_listed_moves},
          {"placements", p.placements.size()},
          {"removals", p.removals.size()}};
}

}  // namespace iota::model
