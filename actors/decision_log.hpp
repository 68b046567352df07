#pragma once
// The decision history (SPEC 14) shared by the actors that decide — each resource type's
// orchestrator, its supervisors, the notify bridge — and the API that answers it: a lock
// around model::decision_history, the time stamped here, and every decision also a log line.
// No CAF: callers are actors, but nothing here sends or blocks for long.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "model/decision_history.hpp"

namespace iota::actors {

class decision_log {
 public:
  explicit decision_log(std::size_t per_resource = 10000) : history_(per_resource) {}

  // A number for a decision recorded later (a write's decisions are recorded once durable,
  // but the ids are stamped with it when applied).
  std::uint64_t reserve() { return next_.fetch_add(1); }
  // Records `d` (with a reserved seq, or a new one if 0); returns its seq.
  std::uint64_t record(model::decision d);
  std::vector<model::decision> query(const model::decision_filter& f) const;
  std::vector<model::decision> about(const std::string& resource, const std::string& id,
                                     std::uint64_t decided_by) const;

 private:
  mutable std::mutex mutex_;
  model::decision_history history_;
  std::atomic<std::uint64_t> next_{1};
};

// Records through `log` when there is one (tests run actors without).
inline std::uint64_t record(decision_log* log, model::decision d) { return log ? log->record(std::move(d)) : 0; }

}  // namespace iota::actors
