// The decision history (SPEC 14) of one resource type: what the orchestrator decided, with its
// cause. A write's decisions are numbered when applied (the ids they place are stamped with
// that number, so "why is this id here" finds it) and recorded once the write is durable;
// the others (orchestrate started, finished or refused, leadership) are recorded at once.
#include <map>
#include <set>

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

void count_in_decision(self_ptr self, model::decision& d, std::string_view id, bool stamp) {
  ++d.count;
  if (d.ids.size() < model::max_listed_ids)
    d.ids.emplace_back(id);
  if (stamp)
    self->state.orch.set_decided_by(id, d.seq);
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

namespace {

// One decision per key, made in key order before any id is counted (so the order is the
// same as if the ids had been grouped first); ids are counted, the first listed and, with
// `stamp`, stamped as they come: a plan of 400,000 ids is not copied again to be described.
template <class Key>
class decision_per_key {
 public:
  decision_per_key(self_ptr self, std::vector<model::decision>& out) : self_(self), out_(out) {}
  template <class MakeDecision>
  void open(const std::set<Key>& keys, MakeDecision make) {
    for (auto& k : keys) {
      at_[k] = out_.size();
      out_.push_back(make(k));
    }
  }
  void count(const Key& k, std::string_view id, bool stamp) { count_in_decision(self_, out_[at_.at(k)], id, stamp); }

 private:
  self_ptr self_;
  std::vector<model::decision>& out_;
  std::map<Key, std::size_t> at_;
};

}  // namespace

void decide_plan(self_ptr self, const model::orchestrate_plan& plan, const std::string& cause,
                 const std::map<model::instance_id, std::vector<std::string>>& removed_from,
                 std::vector<model::decision>& out) {
  for (auto id : plan.added)
    out.push_back(new_decision(self, "instance_created", id, {}, cause, ""));
  std::set<model::instance_id> placed_on;
  for (auto& p : plan.placements)
    placed_on.insert(p.second);
  decision_per_key<model::instance_id> placed{self, out};
  placed.open(placed_on, [&](model::instance_id i) { return new_decision(self, "placed", i, {}, cause, ""); });
  for (auto& [id, instance] : plan.placements)
    placed.count(instance, id, true);
  using from_to = std::pair<model::instance_id, model::instance_id>;
  std::set<from_to> routes;
  for (auto& m : plan.moves)
    routes.insert({m.from, m.to});
  decision_per_key<from_to> moved{self, out};
  moved.open(routes, [&](const from_to& r) {
    return new_decision(self, "moved", r.second, {}, cause, "from instance [" + std::to_string(r.first) + "]");
  });
  for (auto& m : plan.moves)
    moved.count({m.from, m.to}, m.id, true);
  decide_placements(self, "removed", removed_from, cause, "no longer in the inventory", false, out);
  for (auto id : plan.drained)
    out.push_back(new_decision(self, "instance_removed", id, {}, cause, "drained"));
}

}  // namespace iota::actors::orchestrator
