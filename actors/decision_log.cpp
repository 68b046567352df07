#include "actors/decision_log.hpp"

#include <chrono>

#include "io/log.hpp"

namespace iota::actors {

std::uint64_t decision_log::record(model::decision d) {
  if (d.seq == 0)
    d.seq = reserve();
  d.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch()).count();
  // One log line per decision: kind, instance, how many ids (and the first), cause, detail.
  std::string line = d.kind;
  if (!d.instance.empty())
    line += " instance [" + d.instance + "]";
  auto count = d.count ? d.count : d.ids.size();
  if (count > 0)
    line += " " + std::to_string(count) + (count == 1 ? " id" : " ids") + (d.ids.empty() ? "" : " (" + d.ids.front() + (count > 1 ? ", ..." : "") + ")");
  if (!d.cause.empty())
    line += " cause " + d.cause;
  if (!d.detail.empty())
    line += ": " + d.detail;
  auto seq = d.seq;
  log::info("history[" + (d.resource.empty() ? std::string{"-"} : d.resource) + "]", line + " #" + std::to_string(seq));
  std::lock_guard<std::mutex> g{mutex_};
  history_.record(std::move(d));
  return seq;
}

std::vector<model::decision> decision_log::query(const model::decision_filter& f) const {
  std::lock_guard<std::mutex> g{mutex_};
  return history_.query(f);
}

std::vector<model::decision> decision_log::about(const std::string& resource, const std::string& id,
                                                 std::uint64_t decided_by) const {
  std::lock_guard<std::mutex> g{mutex_};
  return history_.about(resource, id, decided_by);
}

}  // namespace iota::actors
