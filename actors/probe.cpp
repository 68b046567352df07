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
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  std::string base{what};
  add((base + "_count").c_str());
  add((base + "_us_total").c_str(), us);
  auto& mx = counters_[counter_of((base + "_us_max").c_str())].second;
  mx = std::max<std::int64_t>(mx, us);
}

msg::actor_stats actor_probe::snapshot(std::uint64_t mailbox) const {
  return msg::actor_stats{name_, mailbox, handlers_, counters_};
}

}  // namespace iota::actors
