#pragma once
// The bytes of an instance's `resources` znode ({"ids":[...]}, SPEC 2), kept in step with its
// ids so that a change costs what it changes, not a pass over every id (reading 5,000
// scattered strings to rewrite one instance was the daemon's largest cost under a stream):
// an appended id is appended; a removal (the model's swap-with-last) copies the last slot over
// the removed one when both encode to the same length (every UUID does) and drops the last.
// Anything else leaves it stale, and the next bytes() encodes every id again. The bytes are
// exactly encode_resources(ids) either way.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace iota::model {

class encoded_ids {
 public:
  // {"ids":[...]} for `ids`, which must be what the calls below followed.
  const std::string& bytes(const std::vector<std::string>& ids);
  void appended(const std::string& id);  // after ids.push_back(id)
  // After ids[pos] = ids.back(); ids.pop_back() (or just the pop when pos was the last).
  void removed(std::size_t pos);
  void invalidate();
  bool fresh() const { return fresh_; }

 private:
  std::size_t slot_end(std::size_t i) const;
  std::string bytes_;
  std::vector<std::uint32_t> start_;  // each slot's first byte (its opening quote)
  bool fresh_ = false;
};

}  // namespace iota::model
