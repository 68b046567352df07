#include "model/planner.hpp"

#include <algorithm>
#include <queue>
#include <unordered_set>

namespace iota::model {

create_result create_resource(orchestration& state, const std::string& id,
                              change_set& changes) {
  if (auto owner = state.where(id))
    return {create_outcome::already_placed, *owner};
  auto& instances = state.instances();
  for (auto it = instances.rbegin(); it != instances.rend(); ++it) {
    if (it->second.has_room()) {
      changes.touch(it->first, true, true);
      state.place(id, it->first);
      return {create_outcome::placed, it->first};
    }
  }
  auto fresh = state.lowest_unused_id();
  changes.touch(fresh, false, true);
  state.add_instance(fresh, std::max(1, state.default_capacity()));
  state.place(id, fresh);
  return {create_outcome::placed_on_new_instance, fresh};
}

bool delete_resource(orchestration& state, const std::string& id, change_set& changes) {
  auto owner = state.where(id);
  if (!owner)
    return false;
  changes.touch(*owner, true, true);
  state.unplace(id);
  return true;
}

bool update_resource(orchestration& state, const std::string& id, change_set& changes) {
  auto owner = state.where(id);
  if (!owner)
    return false;
  changes.touch(*owner, true, false);
  return true;
}

std::size_t reload_all(orchestration& state, change_set& changes) {
  for (auto& [id, _] : state.instances())
    changes.touch(id, true, false);
  return state.instances().size();
}

namespace {

using id_set = std::unordered_set<std::string_view>;

// Views into `inventory`: an orchestrate of 400,000 ids held three more copies of them
// (these, the ids to place, the plan), 100 MB at its peak; now only the plan copies.
std::vector<std::string_view> unique_in_order(const std::vector<std::string>& inventory,
                                              id_set& seen) {
  std::vector<std::string_view> out;
  out.reserve(inventory.size());
  seen.reserve(inventory.size());
  for (auto& id : inventory)
    if (seen.insert(id).second)
      out.push_back(id);
  return out;
}

std::size_t count_valid(const instance& inst, const id_set& inventory) {
  std::size_t n = 0;
  std::string scratch;
  for (std::size_t pos = 0; pos < inst.ids.size(); ++pos)
    n += inventory.count(inst.ids.view(pos, scratch));
  return n;
}

// Existing instances ranked by how much of what may stay on them they can keep under the
// new capacity; ties go to the lower id so the result is deterministic.
std::vector<std::pair<std::size_t, instance_id>>
rank_instances(const orchestration& state, const id_set& inventory, int capacity) {
  std::vector<std::pair<std::size_t, instance_id>> ranked;
  for (auto& [id, inst] : state.instances())
    ranked.emplace_back(std::min(count_valid(inst, inventory), static_cast<std::size_t>(capacity)),
                        id);
  std::sort(ranked.begin(), ranked.end(), [](auto& a, auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  return ranked;
}

// Hands out destinations: first each instance up to its even share (instances in id order,
// so an initial placement is contiguous blocks in inventory order), then the emptiest
// instance with room.
class destination_picker {
 public:
  destination_picker(std::map<instance_id, std::size_t> loads, std::size_t total, int capacity)
      : loads_(std::move(loads)), capacity_(static_cast<std::size_t>(capacity)) {
    auto n = loads_.size();
    std::size_t i = 0;
    for (auto& [id, load] : loads_) {
      auto share = total / n + (i++ < total % n ? 1 : 0);
      if (share > load)
        below_share_.emplace_back(id, share - load);
    }
  }

  std::optional<instance_id> next() {
    while (cursor_ < below_share_.size()) {
      auto& [id, want] = below_share_[cursor_];
      if (want > 0 && loads_[id] < capacity_) {
        --want;
        ++loads_[id];
        return id;
      }
      ++cursor_;
    }
    instance_id best = -1;
    std::size_t best_load = capacity_;
    for (auto& [id, load] : loads_)
      if (load < best_load) {
        best = id;
        best_load = load;
      }
    if (best < 0)
      return std::nullopt;
    ++loads_[best];
    return best;
  }

 private:
  std::map<instance_id, std::size_t> loads_;
  std::size_t capacity_;
  std::vector<std::pair<instance_id, std::size_t>> below_share_;
  std::size_t cursor_ = 0;
};

}  // namespace

std::variant<orchestrate_plan, std::string> plan_orchestrate(const orchestration& state,
                                                             const std::vector<std::string>& inventory,
                                                             const resource_options& options) {
  id_set in_inventory;
  auto ids = unique_in_order(inventory, in_inventory);
  auto planned = plan_instances(ids.size(), options);
  if (auto* err = std::get_if<std::string>(&planned))
    return *err;
  orchestrate_plan plan;
  plan.target = std::get<instance_plan>(planned);
  const auto n = static_cast<std::size_t>(plan.target.instances);
  const auto cap = static_cast<std::size_t>(plan.target.capacity);

  auto ranked = rank_instances(state, in_inventory, plan.target.capacity);
  std::map<instance_id, std::size_t> loads;
  // Placed ids that must move, in a stable order, as (instance, position): their text is
  // copied only into the plan.
  std::vector<std::pair<instance_id, std::size_t>> to_move;
  std::string scratch;
  for (std::size_t i = 0; i < ranked.size(); ++i) {
    auto id = ranked[i].second;
    auto& inst = *state.find(id);
    bool keep = i < n;
    (keep ? plan.kept : plan.drained).push_back(id);
    std::size_t staying = 0;
    for (std::size_t pos = 0; pos < inst.ids.size(); ++pos) {
      auto rid = inst.ids.view(pos, scratch);
      if (!in_inventory.count(rid)) {
        plan.removals.emplace_back(rid);
      } else if (keep && staying < cap) {
        ++staying;
      } else {
        to_move.emplace_back(id, pos);
      }
    }
    if (keep)
      loads[id] = staying;
  }
  std::sort(plan.kept.begin(), plan.kept.end());
  std::sort(plan.drained.begin(), plan.drained.end());
  for (instance_id candidate = 0; plan.kept.size() + plan.added.size() < n; ++candidate)
    if (!state.contains(candidate)) {
      plan.added.push_back(candidate);
      loads[candidate] = 0;
    }

  std::vector<std::string_view> to_place;  // inventory ids not placed yet
  for (auto rid : ids)
    if (!state.where(rid))
      to_place.push_back(rid);
  destination_picker picker{std::move(loads), ids.size(), plan.target.capacity};
  plan.moves.reserve(to_move.size());  // exact: no doubling of 400,000 ids while they grow
  plan.placements.reserve(to_place.size());
  for (std::size_t i = 0; i < to_move.size() + to_place.size(); ++i) {
    auto to = picker.next();
    if (!to)  // cannot happen: n * capacity > count by section 3's arithmetic
      return std::string{"internal error: no room left while planning"};
    if (i < to_move.size()) {
      auto [from, pos] = to_move[i];
      plan.moves.push_back(move{state.find(from)->ids[pos], from, *to});
    } else {
      plan.placements.emplace_back(to_place[i - to_move.size()], *to);
    }
  }
  return plan;
}

namespace {

// Where a resource goes when its planned destination has no room any more (events changed
// the state between throttled steps): the emptiest kept or added instance with room.
std::optional<instance_id> fallback_destination(const orchestration& state,
                                                const orchestrate_plan& plan) {
  std::optional<instance_id> best;
  std::size_t best_room = 0;
  auto consider = [&](instance_id id) {
    auto* inst = state.find(id);
    if (!inst || !inst->has_room())
      return;
    auto room = static_cast<std::size_t>(inst->capacity) - inst->used();
    if (room > best_room) {
      best = id;
      best_room = room;
    }
  };
  for (auto id : plan.kept)
    consider(id);
  for (auto id : plan.added)
    consider(id);
  return best;
}

// Moves (or places) `rid` on `wanted`, or on the fallback when `wanted` is not given or full.
bool relocate(orchestration& state, const orchestrate_plan& plan, std::string_view rid,
              std::optional<instance_id> wanted, change_set& changes) {
  auto* dest = wanted ? state.find(*wanted) : nullptr;
  instance_id to = wanted.value_or(-1);
  if (!dest || !dest->has_room()) {
    auto alt = fallback_destination(state, plan);
    if (!alt)
      return false;
    to = *alt;
  }
  if (auto from = state.where(rid)) {
    if (*from == to)
      return true;
    changes.touch(*from, true, true);
    state.unplace(rid);
  }
  changes.touch(to, true, true);
  state.place(rid, to);
  return true;
}

}  // namespace

std::size_t apply_plan(orchestration& state, const orchestrate_plan& plan, change_set& changes,
                       std::size_t max_moves) {
  if (plan.resize)
    state.set_default_capacity(plan.target.capacity);
  for (auto id : plan.added)
    if (!state.contains(id)) {
      changes.touch(id, false, true);
      state.add_instance(id, plan.target.capacity);
    }
  for (auto& rid : plan.removals)
    delete_resource(state, rid, changes);
  // While moves remain, a shrinking instance keeps a count that covers what it still holds,
  // so `used <= count` holds at every step.
  auto grow_capacities = [&](bool final_step) {
    if (!plan.resize)
      return;
    for (auto id : plan.kept) {
      auto* inst = state.find(id);
      if (!inst)
        continue;
      int want = plan.target.capacity;
      if (!final_step)
        want = std::max(want, static_cast<int>(inst->used()));
      if (inst->capacity != want) {
        changes.touch(id, true, true);
        inst->capacity = want;
      }
    }
  };
  grow_capacities(false);
  for (auto& [rid, to] : plan.placements)
    if (!state.where(rid))
      relocate(state, plan, rid, to, changes);

  std::size_t applied = 0;
  std::size_t remaining = 0;
  for (auto& m : plan.moves) {
    auto now = state.where(m.id);
    if (!now || *now != m.from)
      continue;  // applied in an earlier step, or deleted/moved by an event since
    if (max_moves != 0 && applied >= max_moves) {
      ++remaining;
      continue;
    }
    if (relocate(state, plan, m.id, m.to, changes))
      ++applied;
  }
  if (remaining > 0) {
    grow_capacities(false);
    return remaining;
  }
  // Final step: empty and remove drained instances (ids placed on them since the plan
  // was made follow the others), then settle every count.
  for (auto id : plan.drained) {
    auto* inst = state.find(id);
    if (!inst)
      continue;
    auto left = inst->ids.to_vector();
    for (auto& rid : left)
      relocate(state, plan, rid, std::nullopt, changes);
    if (state.find(id)->used() == 0) {
      changes.touch(id, true, true);
      state.remove_instance(id);
    }
  }
  grow_capacities(true);
  return 0;
}

std::variant<orchestrate_plan, std::string> plan_drain(const orchestration& state,
                                                       instance_id victim) {
  auto* inst = state.find(victim);
  if (!inst)
    return "instance " + std::to_string(victim) + " does not exist";
  orchestrate_plan plan;
  plan.resize = false;
  plan.drained.push_back(victim);
  std::priority_queue<std::pair<std::size_t, instance_id>> room;  // most room first
  std::size_t total_room = 0;
  for (auto& [id, other] : state.instances()) {
    if (id == victim)
      continue;
    plan.kept.push_back(id);
    auto r = other.has_room() ? static_cast<std::size_t>(other.capacity) - other.used() : 0;
    total_room += r;
    if (r > 0)
      room.emplace(r, -id);  // negated: ties go to the lower id
  }
  plan.target = instance_plan{static_cast<int>(plan.kept.size()), state.default_capacity()};
  if (total_room < inst->used())
    return "instance " + std::to_string(victim) + " holds " + std::to_string(inst->used()) +
           " resources but the other instances have room for " + std::to_string(total_room);
  for (const auto& rid : inst->ids) {
    auto [r, neg_id] = room.top();
    room.pop();
    plan.moves.push_back(move{rid, victim, -neg_id});
    if (r > 1)
      room.emplace(r - 1, neg_id);
  }
  return plan;
}

std::size_t minimum_moves(const orchestration& state, const std::vector<std::string>& inventory,
                          instance_plan target) {
  id_set in_inventory;
  unique_in_order(inventory, in_inventory);
  std::size_t total_valid = 0;
  for (auto& [_, inst] : state.instances())
    total_valid += count_valid(inst, in_inventory);
  auto ranked = rank_instances(state, in_inventory, target.capacity);
  std::size_t kept = 0;
  for (std::size_t i = 0; i < ranked.size() && i < static_cast<std::size_t>(target.instances); ++i)
    kept += ranked[i].first;
  return total_valid - kept;
}

}  // namespace iota::model
