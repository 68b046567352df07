#pragma once
// Reconcile (SPEC section 9): what to create and delete so that the placed ids match the
// inventory. Pure: the orchestrator loads the inventory, then asks this for the difference
// and feeds the result through its normal create/delete path.
#include <string>
#include <unordered_set>
#include <vector>

#include "model/orchestration.hpp"

namespace iota::model {

struct reconcile_diff {
  std::vector<std::string> to_create;  // in the inventory, on no instance (inventory order)
  std::vector<std::string> to_delete;  // placed, gone from the inventory (instance order)
};

// `created_since` / `deleted_since`: ids a notify created / deleted after the inventory
// snapshot was started. The snapshot may predate them (a row committed, or removed, after
// it was read), so reconcile must not undo them: an id created since is never deleted, an
// id deleted since is never created. Duplicates and blank ids in the inventory are ignored.
reconcile_diff diff_inventory(const std::vector<std::string>& inventory, const orchestration& state,
                              const std::unordered_set<std::string>& created_since = {},
                              const std::unordered_set<std::string>& deleted_since = {});

}  // namespace iota::model
