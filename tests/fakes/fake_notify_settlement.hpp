#pragma once
// A notify intake that only records what the bridge settles with it: how many notifies and
// each durable mark, in order (for actor tests that need no journal or window).
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "io/notify_intake.hpp"

namespace iota::test {

class fake_notify_settlement : public io::notify_settlement {
 public:
  explicit fake_notify_settlement(std::uint64_t mark_at_start = 0) : mark_at_start_(mark_at_start) {}

  std::uint64_t durable_mark() const override { return mark_at_start_; }
  void settle(std::size_t count, std::uint64_t mark) override {
    std::lock_guard<std::mutex> g{m_};
    settled_ += count;
    marks_.push_back(mark);
  }
  std::size_t in_flight() const override {
    std::lock_guard<std::mutex> g{m_};
    return handed_on - settled_;
  }

  std::size_t settled() const {
    std::lock_guard<std::mutex> g{m_};
    return settled_;
  }
  std::vector<std::uint64_t> marks() const {
    std::lock_guard<std::mutex> g{m_};
    return marks_;
  }

  std::size_t handed_on = 0;  // the test counts what it hands to the bridge

 private:
  std::uint64_t mark_at_start_;
  mutable std::mutex m_;
  std::size_t settled_ = 0;
  std::vector<std::uint64_t> marks_;
};

}  // namespace iota::test
