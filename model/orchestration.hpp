#pragma once
// One resource type's orchestration: its instances, which ids each serves, and the index
// id -> instance. The resource_orchestrator actor holds one as a cache of the znodes.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/id_index.hpp"
#include "model/id_list.hpp"

namespace iota::model {

using instance_id = int;

// ZooKeeper versions of an instance's znodes as last seen; -1 = unknown (write unconditionally).
struct znode_versions {
  std::int32_t data = -1;
  std::int32_t reload = -1;
  std::int32_t resources = -1;
  friend bool operator==(const znode_versions& a, const znode_versions& b) {
    return a.data == b.data && a.reload == b.reload && a.resources == b.resources;
  }
};

struct instance {
  int capacity = 0;                // the znode's "count"
  std::int64_t reload_times = 0;   // `_reload` {"times":n}
  id_list ids;                     // `resources` {"ids":[...]}, those very bytes; "used" is ids.size()
  // Per id (same positions): the decision (SPEC 14) that put it there, 0 when unknown. Kept by
  // the orchestration; empty in an instance decoded from its znodes.
  std::vector<std::uint64_t> decided_by;
  znode_versions versions;
  std::size_t used() const { return ids.size(); }
  bool has_room() const { return ids.size() < static_cast<std::size_t>(capacity); }
};

class orchestration {
 public:
  using instance_map = std::map<instance_id, instance>;

  orchestration() = default;
  explicit orchestration(int default_capacity) : default_capacity_(default_capacity) {}

  // Builds from fetched znodes. An id found on more than one instance is kept on the first
  // (lowest instance id) and dropped from the others; each such drop is reported in
  // `problems` and the instance is listed in `repaired`, so the caller can write it back.
  static orchestration from_instances(instance_map instances, int default_capacity,
                                      std::vector<std::string>* problems = nullptr,
                                      std::vector<instance_id>* repaired = nullptr);

  const instance_map& instances() const { return instances_; }
  const instance* find(instance_id id) const;
  instance* find(instance_id id);
  bool contains(instance_id id) const { return instances_.count(id) != 0; }
  std::optional<instance_id> where(std::string_view resource_id) const;
  std::size_t resources() const { return index_.size(); }
  bool empty() const { return instances_.empty(); }

  // Capacity given to an instance that createResource must add.
  int default_capacity() const { return default_capacity_; }
  void set_default_capacity(int c) { default_capacity_ = c; }

  instance_id lowest_unused_id() const;

  // Primitives; the planner keeps the invariants (each id on one instance, index in step).
  instance& add_instance(instance_id id, int capacity);
  void remove_instance(instance_id id);  // drops its ids from the index too
  void place(std::string_view resource_id, instance_id target);
  bool unplace(std::string_view resource_id);  // false if not placed

  // The decision (SPEC 14, its number in the decision history) that put the id where it is;
  // 0 when unknown (loaded from ZooKeeper, or never stamped). place() resets it to 0.
  void set_decided_by(std::string_view resource_id, std::uint64_t decision);
  std::uint64_t decided_by(std::string_view resource_id) const;

 private:
  // The index entry of an id (its position in its owner's ids, so removal is O(1): swap with
  // last), or null.
  const id_index::entry* entry_of(std::string_view resource_id, std::uint32_t hash) const;
  instance_map instances_;
  id_index index_;
  int default_capacity_ = 5000;
};

}  // namespace iota::model
