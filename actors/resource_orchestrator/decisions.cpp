// The decision history (SPEC 14) of one resource type: what the orchestrator decided, with its
// cause. A write's decisions are numbered when applied (the ids they place are stamped with
// that number, so "why is this id here" finds it) and recorded once the write is durable;
// the others (orchestrate started, finished or refused, leadership) are recorded at once.
#include <map>

#include "actors/decision_log.hpp"
#include "actors/resource_orchestrator/state.hpp"

namespace iota::actors::orchestrator {

model::decision new_decision(self_ptr self, const std::string& kind, std::optional<model::instance_id> instance,
                             const std::vector<std::string>& ids, const std::string& cause,
                             const std::string& detail) {
  auto& st = self->state;
  model::decision d;
  d.seq = st.cfg.history ? st.cfg.history->reserve() : 0;
  d.resource = st.cfg.resource;
  d.kind = kind;
  if (instance)
    d.instance = std::to_string(*instance);
  d.count = ids.size();
  d.ids.assign(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), model::max_listed_ids)));
  d.cause = cause;
  d.detail = detail;
  return d;
}

void decide_now(self_ptr self, model::decision d) { record(self->state.cfg.history.get(), std::move(d)); }

void record_decisions(self_ptr self, std::vector<model::decision>& decisions) {
  for (auto& d : decisions)
    decide_now(self, std::move(d));
  decisions.clear();
}

void decide_placements(self_ptr self, const std::string& kind,
                       const std::map<model::instance_id, std::vector<std::string>>& by_instance,
                       const std::string& cause, const std::string& detail, bool stamp,
                       std::vector<model::decision>& out) {
  for (auto& [instance, ids] : by_instance) {
    auto d = new_decision(self, kind, instance, ids, cause, detail);
    if (stamp)
      for (auto& id : ids)
        self->state.orch.set_decided_by(id, d.seq);
    out.push_back(std::move(d));
  }
}

void decide_plan(self_ptr self, const model::orchestrate_plan& plan, const std::string& cause,
                 const std::map<model::instance_id, std::vector<std::string>>& removed_from,
                 std::vector<model::decision>& out) {
  for (auto id : plan.added)
    out.push_back(new_decision(self, "instance_created", id, {}, cause, ""));
  std::map<model::instance_id, std::vector<std::string>> placed;
  for (auto& [id, instance] : plan.placements)
    placed[instance].push_back(id);
  decide_placements(self, "placed", placed, cause, "", true, out);
  std::map<std::pair<model::instance_id, model::instance_id>, std::vector<std::string>> moved;
  for (auto& m : plan.moves)
    moved[{m.from, m.to}].push_back(m.id);
  for (auto& [from_to, ids] : moved) {
    auto d = new_decision(self, "moved", from_to.second, ids, cause,
                          "from instance [" + std::to_string(from_to.first) + "]");
    for (auto& id : ids)
      self->state.orch.set_decided_by(id, d.seq);
    out.push_back(std::move(d));
  }
  decide_placements(self, "removed", removed_from, cause, "no longer in the inventory", false, out);
  for (auto id : plan.drained)
    out.push_back(new_decision(self, "instance_removed", id, {}, cause, "drained"));
}

}  // namespace iota::actors::orchestrator
