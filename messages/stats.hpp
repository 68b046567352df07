#pragma once
// Per-actor figures gathered by the stats actor for /v1/api/stats and /metrics.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace iota::msg {

struct handler_figures {
  std::string message;          // the message type, e.g. "apply"
  std::uint64_t received = 0;
  std::uint64_t handled = 0;
  std::uint64_t total_ns = 0;   // handling time
  std::uint64_t max_ns = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, handler_figures& x) {
  return f(caf::meta::type_name("handler_figures"), x.message, x.received, x.handled,
           x.total_ns, x.max_ns);
}

struct actor_stats {
  std::string actor;            // e.g. "resource_orchestrator/Thing"
  std::uint64_t mailbox = 0;    // messages waiting when asked
  std::vector<handler_figures> handlers;
  std::vector<std::pair<std::string, std::int64_t>> counters;  // domain counters
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_stats& x) {
  return f(caf::meta::type_name("actor_stats"), x.actor, x.mailbox, x.handlers, x.counters);
}

}  // namespace iota::msg
