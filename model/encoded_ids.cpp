#include "model/encoded_ids.hpp"

#include <cstring>

#include "model/zk_layout.hpp"

namespace iota::model {

namespace {
constexpr char head[] = "{\"ids\":[";
constexpr char tail[] = "]}";
}  // namespace

std::size_t encoded_ids::slot_end(std::size_t i) const {
  return i + 1 < start_.size() ? start_[i + 1] - 1 : bytes_.size() - (sizeof tail - 1);
}

const std::string& encoded_ids::bytes(const std::vector<std::string>& ids) {
  if (fresh_ && start_.size() == ids.size())
    return bytes_;
  bytes_.clear();
  start_.clear();
  std::size_t size = sizeof head + sizeof tail;
  for (auto& id : ids)
    size += id.size() + 3;
  bytes_.reserve(size);
  start_.reserve(ids.size());
  bytes_ += head;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0)
      bytes_ += ',';
    start_.push_back(static_cast<std::uint32_t>(bytes_.size()));
    append_json_string(bytes_, ids[i]);
  }
  bytes_ += tail;
  fresh_ = true;
  return bytes_;
}

void encoded_ids::appended(const std::string& id) {
  if (!fresh_)
    return;
  bytes_.resize(bytes_.size() - (sizeof tail - 1));
  if (!start_.empty())
    bytes_ += ',';
  start_.push_back(static_cast<std::uint32_t>(bytes_.size()));
  append_json_string(bytes_, id);
  bytes_ += tail;
}

void encoded_ids::removed(std::size_t pos) {
  if (!fresh_ || pos >= start_.size()) {
    invalidate();
    return;
  }
  auto last = start_.size() - 1;
  if (pos != last) {
    auto len = slot_end(pos) - start_[pos];
    if (len != slot_end(last) - start_[last]) {
      invalidate();
      return;
    }
    std::memcpy(&bytes_[start_[pos]], &bytes_[start_[last]], len);
  }
  auto cut = last == 0 ? start_[0] : start_[last] - 1;  // with the comma before it
  bytes_.erase(cut, slot_end(last) - cut);
  start_.pop_back();
}

void encoded_ids::invalidate() {
  fresh_ = false;
  bytes_.clear();
  bytes_.shrink_to_fit();
  start_.clear();
  start_.shrink_to_fit();
}

}  // namespace iota::model
