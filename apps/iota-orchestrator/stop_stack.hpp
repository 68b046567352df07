#pragma once
// Every component the daemon starts is pushed here right after it starts, with what stops it;
// stop_all() (or the destructor, on any early return) pops them in reverse, so the stop order
// is the start order reversed on the error path and the signal path alike.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "io/log.hpp"

namespace iota::apps {

class stop_stack {
 public:
  stop_stack() = default;
  stop_stack(const stop_stack&) = delete;
  stop_stack& operator=(const stop_stack&) = delete;
  ~stop_stack() { stop_all(); }

  void push(std::string name, std::function<void()> stop) {
    entries_.emplace_back(std::move(name), std::move(stop));
  }

  void stop_all() {
    while (!entries_.empty()) {
      auto [name, stop] = std::move(entries_.back());
      entries_.pop_back();
      log::debug("daemon", "stopping " + name);
      stop();
    }
  }

 private:
  std::vector<std::pair<std::string, std::function<void()>>> entries_;
};

}  // namespace iota::apps
