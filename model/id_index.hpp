#pragma once
// The flat index of an orchestration: id -> (instance, position). The ids' bytes live once,
// in the instances' id_lists; an entry holds only where to find its id and 32 bits of its
// hash (12 bytes in one open-addressed table, linear probing, no tombstones: a removal shifts
// back what follows). A lookup compares the text only on a hash match.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace iota::model {

class id_index {
 public:
  struct entry {
    std::uint32_t hash;
    std::int32_t owner;  // -1: an empty slot
    std::uint32_t position;
  };

  static std::uint32_t hash_of(std::string_view id);

  std::size_t size() const { return size_; }
  void clear();
  void reserve(std::size_t ids);

  // The entry whose id is the one hashed to `hash`; `same(entry)` compares its text.
  template <class Same>
  entry* find(std::uint32_t hash, Same&& same) {
    if (size_ == 0)
      return nullptr;
    for (auto i = hash & mask_;; i = (i + 1) & mask_) {
      auto& e = slots_[i];
      if (e.owner < 0)
        return nullptr;
      if (e.hash == hash && same(e))
        return &e;
    }
  }
  template <class Same>
  const entry* find(std::uint32_t hash, Same&& same) const {
    return const_cast<id_index*>(this)->find(hash, same);
  }
  // The entry at (owner, position), whose id hashes to `hash`.
  entry* find_at(std::uint32_t hash, std::int32_t owner, std::uint32_t position) {
    return find(hash, [&](const entry& e) { return e.owner == owner && e.position == position; });
  }

  void insert(const entry& e);  // its id must not be in already
  void erase(entry* e);

 private:
  void grow();
  std::vector<entry> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace iota::model
