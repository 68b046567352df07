#pragma once
// Per-actor counters (SPEC section 11): per message type, received / handled / handling
// time, plus domain counters. An actor runs on one thread at a time, so no atomics.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "messages/stats.hpp"

namespace iota::actors {

class actor_probe {
 public:
  explicit actor_probe(std::string actor_name = {}) : name_(std::move(actor_name)) {}

  void rename(std::string actor_name) { name_ = std::move(actor_name); }
  const std::string& name() const { return name_; }

  class timer {
   public:
    timer(actor_probe& p, std::size_t slot) : probe_(p), slot_(slot) {}
    ~timer();
    timer(const timer&) = delete;
    timer& operator=(const timer&) = delete;

   private:
    actor_probe& probe_;
    std::size_t slot_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  };

  // First line of a handler: `auto t = probe.measure("apply");` (a string literal).
  timer measure(const char* message);

  void add(const char* counter, std::int64_t delta = 1);
  void set(const char* counter, std::int64_t value);
  std::int64_t get(const char* counter) const;
  // A duration (e.g. one ZooKeeper multi) into the histogram `what`: Prometheus buckets in
  // seconds, with their count and sum.
  void observe(const char* what, std::chrono::nanoseconds d);

  msg::actor_stats snapshot(std::uint64_t mailbox) const;

 private:
  std::size_t slot_of(const char* message);
  std::size_t counter_of(const char* counter);

  std::string name_;
  std::vector<msg::handler_figures> handlers_;
  std::vector<std::pair<std::string, std::int64_t>> counters_;
  std::vector<msg::histogram_figures> histograms_;
};

// The messages waiting in an actor's queues, asked from its own handler. Not
// mailbox().size(): that first moves new messages from the inbox into the queues, which from
// inside a handler trips CAF 0.17's queue on its sentinel (UBSan: a downcast of the queue's
// head) and stopped a sanitized daemon. Messages not fetched yet are not counted.
template <class Self>
std::uint64_t mailbox_depth(Self* self) {
  return static_cast<std::uint64_t>(self->mailbox().queue().total_task_size());
}

}  // namespace iota::actors
