#include "model/id_index.hpp"

#include <functional>

namespace iota::model {

namespace {
constexpr id_index::entry empty_slot{0, -1, 0};
// Grows past 4/5 full: probes stay short since each compares 12 contiguous bytes first.
bool too_full(std::size_t size, std::size_t slots) { return size * 5 > slots * 4; }
}  // namespace

std::uint32_t id_index::hash_of(std::string_view id) {
  auto h = std::hash<std::string_view>{}(id);
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

void id_index::clear() {
  slots_.clear();
  slots_.shrink_to_fit();
  mask_ = 0;
  size_ = 0;
}

void id_index::reserve(std::size_t ids) {
  std::size_t slots = slots_.empty() ? 16 : slots_.size();
  while (too_full(ids, slots))
    slots *= 2;
  if (slots == slots_.size())
    return;
  std::vector<entry> old(slots, empty_slot);
  old.swap(slots_);
  mask_ = slots - 1;
  for (auto& e : old)
    if (e.owner >= 0)
      for (auto i = e.hash & mask_;; i = (i + 1) & mask_)
        if (slots_[i].owner < 0) {
          slots_[i] = e;
          break;
        }
}

void id_index::grow() { reserve(size_ + 1); }

void id_index::insert(const entry& e) {
  if (slots_.empty() || too_full(size_ + 1, slots_.size()))
    grow();
  for (auto i = e.hash & mask_;; i = (i + 1) & mask_)
    if (slots_[i].owner < 0) {
      slots_[i] = e;
      ++size_;
      return;
    }
}

void id_index::erase(entry* e) {
  auto hole = static_cast<std::size_t>(e - slots_.data());
  for (auto i = (hole + 1) & mask_; slots_[i].owner >= 0; i = (i + 1) & mask_) {
    auto home = slots_[i].hash & mask_;
    // Moves back an entry whose home is not cyclically within (hole, i].
    bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
    if (!stays) {
      slots_[hole] = slots_[i];
      hole = i;
    }
  }
  slots_[hole] = empty_slot;
  --size_;
}

}  // namespace iota::model
