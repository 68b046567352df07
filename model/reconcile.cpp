#include "model/reconcile.hpp"

namespace iota::model {

reconcile_diff diff_inventory(const std::vector<std::string>& inventory, const orchestration& state,
                              const std::unordered_set<std::string>& created_since,
                              const std::unordered_set<std::string>& deleted_since) {
  reconcile_diff d;
  std::unordered_set<std::string> wanted;
  wanted.reserve(inventory.size());
  for (auto& id : inventory) {
    if (id.empty() || !wanted.insert(id).second)
      continue;
    if (!state.where(id) && !deleted_since.count(id))
      d.to_create.push_back(id);
  }
  for (auto& [_, inst] : state.instances())
    for (const auto& id : inst.ids)
      if (!wanted.count(id) && !created_since.count(id))
        d.to_delete.push_back(id);
  return d;
}

}  // namespace iota::model
