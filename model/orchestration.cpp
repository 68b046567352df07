#include "model/orchestration.hpp"

#include <algorithm>
#include <stdexcept>

namespace iota::model {

orchestration orchestration::from_instances(instance_map instances, int default_capacity,
                                            std::vector<std::string>* problems,
                                            std::vector<instance_id>* repaired) {
  orchestration out{default_capacity};
  // The seed gave a new instance the count of the lowest instance it looked at.
  if (!instances.empty() && instances.begin()->second.capacity > 0)
    out.default_capacity_ = instances.begin()->second.capacity;
  std::size_t total = 0;
  for (auto& [_, inst] : instances)
    total += inst.ids.size();
  out.index_.reserve(total);
  std::string scratch;
  for (auto& [id, inst] : instances) {
    auto fetched = std::move(inst.ids);
    inst.ids = id_list{};
    auto& added = out.instances_.emplace(id, std::move(inst)).first->second;
    added.ids.reserve(fetched.size(), fetched.bytes().size() / std::max<std::size_t>(1, fetched.size()) + 1);
    bool dropped = false;
    for (std::size_t pos = 0; pos < fetched.size(); ++pos) {
      auto rid = fetched.view(pos, scratch);
      auto hash = id_index::hash_of(rid);
      if (auto* e = out.entry_of(rid, hash)) {
        if (problems)
          problems->push_back("resource " + std::string{rid} + " is listed by instances " +
                              std::to_string(e->owner) + " and " + std::to_string(id) +
                              "; keeping it on " + std::to_string(e->owner));
        dropped = true;
        continue;
      }
      out.index_.insert({hash, id, static_cast<std::uint32_t>(added.ids.size())});
      added.ids.push_back(rid);
    }
    added.decided_by.assign(added.ids.size(), 0);
    if (dropped && repaired)
      repaired->push_back(id);
  }
  return out;
}

const id_index::entry* orchestration::entry_of(std::string_view resource_id,
                                               std::uint32_t hash) const {
  return index_.find(hash, [&](const id_index::entry& e) {
    return instances_.find(e.owner)->second.ids.equals(e.position, resource_id);
  });
}

const instance* orchestration::find(instance_id id) const {
  auto it = instances_.find(id);
  return it == instances_.end() ? nullptr : &it->second;
}

instance* orchestration::find(instance_id id) {
  auto it = instances_.find(id);
  return it == instances_.end() ? nullptr : &it->second;
}

std::optional<instance_id> orchestration::where(std::string_view resource_id) const {
  auto* e = entry_of(resource_id, id_index::hash_of(resource_id));
  if (!e)
    return std::nullopt;
  return e->owner;
}

instance_id orchestration::lowest_unused_id() const {
  instance_id candidate = 0;
  for (auto& [id, _] : instances_) {  // ordered: the first gap is the answer
    if (id > candidate)
      break;
    if (id == candidate)
      ++candidate;
  }
  return candidate;
}

instance& orchestration::add_instance(instance_id id, int capacity) {
  auto [it, inserted] = instances_.emplace(id, instance{});
  if (!inserted)
    throw std::logic_error("instance " + std::to_string(id) + " already exists");
  it->second.capacity = capacity;
  return it->second;
}

void orchestration::remove_instance(instance_id id) {
  auto it = instances_.find(id);
  if (it == instances_.end())
    return;
  auto& ids = it->second.ids;
  std::string scratch;
  for (std::size_t pos = 0; pos < ids.size(); ++pos)
    if (auto* e = index_.find_at(id_index::hash_of(ids.view(pos, scratch)), id,
                                 static_cast<std::uint32_t>(pos)))
      index_.erase(e);
  instances_.erase(it);
}

void orchestration::place(std::string_view resource_id, instance_id target) {
  auto& inst = instances_.at(target);
  auto hash = id_index::hash_of(resource_id);
  if (entry_of(resource_id, hash))
    throw std::logic_error("resource " + std::string{resource_id} + " is already placed");
  index_.insert({hash, target, static_cast<std::uint32_t>(inst.ids.size())});
  inst.ids.push_back(resource_id);
  inst.decided_by.push_back(0);
}

bool orchestration::unplace(std::string_view resource_id) {
  // entry_of is const; the entry is this orchestration's own, so it may change it.
  auto* e = const_cast<id_index::entry*>(entry_of(resource_id, id_index::hash_of(resource_id)));
  if (!e)
    return false;
  auto owner = e->owner;
  auto pos = e->position;
  auto& inst = instances_.at(owner);
  auto last = static_cast<std::uint32_t>(inst.ids.size() - 1);
  index_.erase(e);  // first: erasing shifts entries, so `e` is stale after it
  if (pos != last) {  // the last id takes the freed position
    std::string scratch;
    index_.find_at(id_index::hash_of(inst.ids.view(last, scratch)), owner, last)->position = pos;
    inst.decided_by[pos] = inst.decided_by[last];
  }
  inst.decided_by.pop_back();
  inst.ids.remove_swap_last(pos);
  return true;
}

void orchestration::set_decided_by(std::string_view resource_id, std::uint64_t decision) {
  if (auto* e = entry_of(resource_id, id_index::hash_of(resource_id)))
    instances_.at(e->owner).decided_by[e->position] = decision;
}

std::uint64_t orchestration::decided_by(std::string_view resource_id) const {
  auto* e = entry_of(resource_id, id_index::hash_of(resource_id));
  return e ? instances_.at(e->owner).decided_by[e->position] : 0;
}

}  // namespace iota::model
