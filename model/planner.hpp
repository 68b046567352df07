#pragma once
// The planner: every change to an orchestration, as the original service makes it
// (createResource, deleteResource, orchestrate) plus the engine's additions (update, reload
// of all instances, sticky re-orchestrate, drain). Each operation mutates the state and
// records what it touched in a change_set; model/change_set renders that to znode writes.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "model/change_set.hpp"
#include "model/options.hpp"
#include "model/orchestration.hpp"

namespace iota::model {

enum class create_outcome { placed, placed_on_new_instance, already_placed };

// Walks the instances from the highest id down and places the id on the first with
// used < count; if none has room, adds instance <lowest unused id> with the default
// capacity. A create of an id already placed changes nothing.
struct create_result {
  create_outcome outcome;
  instance_id target;
};
create_result create_resource(orchestration& state, const std::string& id, change_set& changes);

// Removes the id from the instance holding it. False (and no change) for an unknown id.
bool delete_resource(orchestration& state, const std::string& id, change_set& changes);

// Asks the instance holding the id to reload. False (and no change) for an unknown id.
bool update_resource(orchestration& state, const std::string& id, change_set& changes);

// Asks every instance to reload (a dependency table changed). Returns the instance count.
std::size_t reload_all(orchestration& state, change_set& changes);

// A resource that changes instance.
struct move {
  std::string id;
  instance_id from;
  instance_id to;
};

// What an orchestrate would do, computed without changing anything (also the dry run).
struct orchestrate_plan {
  instance_plan target;                 // section 3's instances and capacity
  std::vector<instance_id> kept;        // existing instances that stay
  std::vector<instance_id> added;       // new instances
  std::vector<instance_id> drained;     // existing instances emptied and removed
  std::vector<move> moves;              // placed resources that change instance
  // Inventory ids not yet placed: views of the inventory the plan was made from, which must
  // outlive the plan unchanged (moving its vector keeps them valid; 400,000 copies were 35 MB).
  std::vector<std::pair<std::string_view, instance_id>> placements;
  std::vector<std::string> removals;    // placed ids no longer in the inventory
  bool resize = true;                   // set every kept instance's count to target.capacity
};

// Plans an orchestrate of `inventory` (duplicates ignored) with section 3's arithmetic.
// On an empty orchestration this is the initial placement: instances 0..n-1, the ids spread
// in inventory order as evenly as the count allows. On an existing one it is sticky: it
// keeps the n instances that already hold the most of what may stay, moves only what
// capacity or draining forces (the minimum possible), and fills the emptiest instances
// first. Errors: the seed's "require instances more than the max: <n>/<max>".
std::variant<orchestrate_plan, std::string> plan_orchestrate(const orchestration& state,
                                                             const std::vector<std::string>& inventory,
                                                             const resource_options& options);
// Its placements view the inventory: a temporary one would leave them dangling.
std::variant<orchestrate_plan, std::string> plan_orchestrate(const orchestration& state,
                                                             std::vector<std::string>&& inventory,
                                                             const resource_options& options) = delete;

// Applies a plan. `max_moves` bounds how many moves this step applies (0 = all): placements
// of new ids, removals and instance additions go first; drained instances are removed once
// empty. Returns the number of moves still to apply (0 when the plan is complete); call
// again with the same plan to continue (moves already applied are skipped).
std::size_t apply_plan(orchestration& state, const orchestrate_plan& plan, change_set& changes,
                       std::size_t max_moves = 0);

// Plans moving every resource of `victim` to the other instances (most room first) and
// removing it. Error when the others lack room or the instance does not exist.
std::variant<orchestrate_plan, std::string> plan_drain(const orchestration& state,
                                                       instance_id victim);

// The fewest moves any orchestrate to `target` must make: what sits on instances beyond the
// `target.instances` best kept ones, plus what overflows the new capacity.
std::size_t minimum_moves(const orchestration& state, const std::vector<std::string>& inventory,
                          instance_plan target);

}  // namespace iota::model
