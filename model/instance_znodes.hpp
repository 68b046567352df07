#pragma once
// Turning what a fetch read of a resource root into instances, with the problems found
// (SPEC section 2). Pure: the real ZooKeeper store and the test fake both call it, so the
// tolerance and repair rules are one piece of code, tested once.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/orchestration.hpp"

namespace iota::model {

// One znode as read: absent, or its bytes and version.
struct znode_read {
  bool exists = false;
  std::string data;
  std::int32_t version = -1;
};

// The three znodes of one instance that carry state, in this order: the instance's own
// data, `_reload`, `resources` (`tmp` carries none).
struct instance_znodes {
  instance_id id = 0;
  std::array<znode_read, 3> nodes;
};

// fetchOrchestration's result. `rc` is the store's error code (0: read); a missing root is
// rc 0 with no instances. A znode that does not decode is reported in `problems` and the
// instance is still listed (capacity 0 = unknown, no ids, times 0) with its versions, so the
// next write replaces it instead of colliding with it; an instance missing one of its znodes
// (removed or created during the read) is skipped and reported.
struct fetched_instances {
  int rc = 0;
  orchestration::instance_map instances;
  std::vector<std::string> problems;
};

fetched_instances decode_instances(std::string_view root, std::vector<instance_znodes> read);

}  // namespace iota::model
