#include "actors/probe.hpp"

#include <algorithm>

namespace iota::actors {

actor_probe::timer::~timer() {
  auto ns = static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_)
      .count());
  auto& h = probe_.handlers_[slot_];
  ++h.handled;
  h.total_ns += ns;
  h.max_ns = std::max(h.max_ns, ns);
}

actor_probe::timer actor_probe::measure(const char* message) {
  auto slot = slot_of(message);
  ++handlers_[slot].received;
  return timer{*this, slot};
}

std::size_t actor_probe::slot_of(const char* message) {
  for (std::size_t i = 0; i < handlers_.size(); ++i)
    if (handlers_[i].message == message)
      return i;
  handlers_.push_back(msg::handler_figures{message, 0, 0, 0, 0});
  return handlers_.size() - 1;
}

std::size_t actor_probe::counter_of(const char* counter) {
  for (std::size_t i = 0; i < counters_.size(); ++i)
    if (counters_[i].first == counter)
      return i;
  counters_.emplace_back(counter, 0);
  return counters_.size() - 1;
}

void actor_probe::add(const char* counter, std::int64_t delta) {
  counters_[counter_of(counter)].second += delta;
}

void actor_probe::set(const char* counter, std::int64_t value) {
  counters_[counter_of(counter)].second = value;
}

std::int64_t actor_probe::get(const char* counter) const {
  for (auto& [name, value] : counters_)
    if (name == counter)
      return value;
  return 0;
}

void actor_probe::observe(const char* what, std::chrono::nanoseconds d) {
  std::string base{what};
  auto it = std::find_if(histograms_.begin(), histograms_.end(),
                         [&](const msg::histogram_figures& h) { return h.name == base; });
  if (it == histograms_.end()) {
    msg::histogram_figures h;
    h.name = base;
    h.bounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    h.counts.assign(h.bounds.size() + 1, 0);
    histograms_.push_back(std::move(h));
    it = histograms_.end() - 1;
  }
  double secs = std::chrono::duration<double>(d).count();
  auto b = std::lower_bound(it->bounds.begin(), it->bounds.end(), secs) - it->bounds.begin();
  ++it->counts[static_cast<std::size_t>(b)];
  it->sum += secs;
  ++it->count;
}

msg::actor_stats actor_probe::snapshot(std::uint64_t mailbox) const {
  return msg::actor_stats{name_, mailbox, handlers_, counters_, histograms_};
}

}  // namespace iota::actors
