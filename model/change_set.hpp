#pragma once
// What a batch of operations changed, per instance, so that one ZooKeeper multi-op (or a few,
// when the payload would pass jute.maxbuffer) can write it with one `_reload.times` bump per
// touched instance. Several operations fold into one change set (group commit).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/orchestration.hpp"

namespace iota::model {

struct instance_touch {
  bool existed_before = false;     // in ZooKeeper when the change set was opened
  bool data_changed = false;       // used/count/resources differ: write all three znodes
};

class change_set {
 public:
  // Records that `id` is about to change. `existed` tells whether the instance exists now,
  // before this change; only the first touch of an instance decides `existed_before`.
  // `data` false means only a reload is asked (an update event): `_reload` alone is written.
  void touch(instance_id id, bool existed, bool data);

  // Folds a later change set into this one (group commit).
  void merge(const change_set& later);

  bool empty() const { return touched_.empty(); }
  std::size_t size() const { return touched_.size(); }
  const std::map<instance_id, instance_touch>& touched() const { return touched_; }
  bool contains(instance_id id) const { return touched_.count(id) != 0; }
  void clear() { touched_.clear(); }

 private:
  std::map<instance_id, instance_touch> touched_;
};

// One ZooKeeper operation of a multi, as plain data (model/ knows no ZooKeeper client).
struct zk_op {
  enum class kind { create, set, remove, check };
  kind type = kind::set;
  std::string path;
  std::string data;
  std::int32_t version = -1;  // expected version for set/remove/check; -1 = any
};

// How an instance fares in a rendered change set.
enum class instance_fate { created, updated, reloaded, removed };

struct rendered_instance {
  instance_id id = 0;
  instance_fate fate = instance_fate::updated;
  std::vector<zk_op> ops;
  std::size_t bytes = 0;  // paths + data: what counts against jute.maxbuffer
};

struct rendered_change_set {
  std::vector<rendered_instance> instances;  // created, then updated/reloaded, then removed
  // Instances grouped into multis whose payload stays under the byte budget; an instance's
  // ops are never split, so each instance changes atomically (its data, `_reload` bump and
  // `resources` together). Indices into `instances`. Removed instances never share a multi
  // with the others: the multis from `removals_from` on hold only removals, so a writer can
  // send every multi before them at once and the removals once those committed.
  std::vector<std::vector<std::size_t>> multis;
  std::size_t removals_from = 0;  // == multis.size() when nothing is removed
};

// Bytes one op adds to the multi packet beyond its path and data (ZooKeeper's jute framing:
// the multi header, length prefixes, version, flags, and the open ACL of a create: <= 48).
inline constexpr std::size_t multi_op_overhead = 64;

// Default budget for one multi. Two bounds: jute.maxbuffer (1,048,575 bytes by default)
// refuses a whole packet over it (the server drops the connection: the client only sees
// connection loss), and ZooKeeper keeps its last 500 committed transactions in memory
// (ZKDatabase's committedLog; `zookeeper.commitLogCount` cannot go below 500), so the server
// heap holds ~500 x the multi size: 960 KB multis fill ~470 MB and a 512 MB server dies of
// OutOfMemoryError. 256 KB holds one full instance (5,000 UUIDs: ~195 KB) or many small ones
// and keeps that log near 128 MB; the multis of a batch are pipelined, so more of them cost
// little.
inline constexpr std::size_t default_multi_budget = 256 * 1024;

// Renders the change set against the current state. Bumps `reload_times` of every touched
// instance that existed before and still exists (exactly once), so the state afterwards is
// what ZooKeeper holds once the multis succeed. A created instance gets `_reload`
// {"times":<its reload_times>} (0 for a new one, as the original creates it).
rendered_change_set render(const change_set& changes, orchestration& state,
                           std::string_view resource_root,
                           std::size_t multi_budget = default_multi_budget);

// After the ops of `r` succeeded: every set advances the instance's znode version by one,
// a create starts it at 0. (`state` must be the one `r` was rendered from.)
void record_committed(const rendered_instance& r, orchestration& state);

}  // namespace iota::model
