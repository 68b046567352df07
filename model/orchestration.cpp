#include "model/orchestration.hpp"

#include <stdexcept>

namespace iota::model {

orchestration orchestration::from_instances(instance_map instances, int default_capacity,
                                            std::vector<std::string>* problems,
                                            std::vector<instance_id>* repaired) {
  orchestration out{default_capacity};
  // The seed gave a new instance the count of the lowest instance it looked at.
  if (!instances.empty() && instances.begin()->second.capacity > 0)
    out.default_capacity_ = instances.begin()->second.capacity;
  for (auto& [id, inst] : instances) {
    auto ids = std::move(inst.ids);
    inst.ids.clear();
    auto& added = out.instances_.emplace(id, std::move(inst)).first->second;
    added.encoded.invalidate();  // encoded again at its first write
    added.ids.reserve(ids.size());
    bool dropped = false;
    for (auto& rid : ids) {
      auto it = out.index_.find(rid);
      if (it != out.index_.end()) {
        if (problems)
          problems->push_back("resource " + rid + " is listed by instances " +
                              std::to_string(it->second.owner) + " and " + std::to_string(id) +
                              "; keeping it on " + std::to_string(it->second.owner));
        dropped = true;
        continue;
      }
      out.index_.emplace(rid, slot{id, static_cast<std::uint32_t>(added.ids.size())});
      added.ids.push_back(std::move(rid));
    }
    if (dropped && repaired)
      repaired->push_back(id);
  }
  return out;
}

const instance* orchestration::find(instance_id id) const {
  auto it = instances_.find(id);
  return it == instances_.end() ? nullptr : &it->second;
}

instance* orchestration::find(instance_id id) {
  auto it = instances_.find(id);
  return it == instances_.end() ? nullptr : &it->second;
}

std::optional<instance_id> orchestration::where(const std::string& resource_id) const {
  auto it = index_.find(resource_id);
  if (it == index_.end())
    return std::nullopt;
  return it->second.owner;
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
  for (auto& rid : it->second.ids)
    index_.erase(rid);
  instances_.erase(it);
}

void orchestration::place(const std::string& resource_id, instance_id target) {
  auto& inst = instances_.at(target);
  auto [it, inserted] =
    index_.emplace(resource_id, slot{target, static_cast<std::uint32_t>(inst.ids.size())});
  if (!inserted)
    throw std::logic_error("resource " + resource_id + " is already placed");
  inst.ids.push_back(resource_id);
  inst.encoded.appended(resource_id);
}

bool orchestration::unplace(const std::string& resource_id) {
  auto it = index_.find(resource_id);
  if (it == index_.end())
    return false;
  auto& inst = instances_.at(it->second.owner);
  auto& ids = inst.ids;
  auto pos = it->second.position;
  if (pos + 1 != ids.size()) {
    ids[pos] = std::move(ids.back());
    index_.at(ids[pos]).position = pos;
  }
  ids.pop_back();
  inst.encoded.removed(pos);
  index_.erase(it);
  return true;
}

void orchestration::set_decided_by(const std::string& resource_id, std::uint64_t decision) {
  auto it = index_.find(resource_id);
  if (it != index_.end())
    it->second.decided_by = decision;
}

std::uint64_t orchestration::decided_by(const std::string& resource_id) const {
  auto it = index_.find(resource_id);
  return it == index_.end() ? 0 : it->second.decided_by;
}

}  // namespace iota::model
