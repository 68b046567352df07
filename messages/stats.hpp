#pragma once
// Per-actor figures gathered by the stats actor for /v1/api/stats and /metrics.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"

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

// A latency histogram (Prometheus style: cumulative buckets over upper bounds in seconds).
struct histogram_figures {
  std::string name;                  // e.g. "zookeeper_multi_duration"
  std::vector<double> bounds;        // upper bounds, seconds, ascending (+Inf implied)
  std::vector<std::uint64_t> counts; // per bound, not cumulative; one extra for +Inf
  double sum = 0;                    // seconds
  std::uint64_t count = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, histogram_figures& x) {
  return f(caf::meta::type_name("histogram_figures"), x.name, x.bounds, x.counts, x.sum, x.count);
}

struct actor_stats {
  std::string actor;            // e.g. "resource_orchestrator/Thing"
  std::uint64_t mailbox = 0;    // messages waiting when asked
  std::vector<handler_figures> handlers;
  std::vector<std::pair<std::string, std::int64_t>> counters;  // domain counters
  std::vector<histogram_figures> histograms;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_stats& x) {
  return f(caf::meta::type_name("actor_stats"), x.actor, x.mailbox, x.handlers, x.counters,
           x.histograms);
}

// The stats actor: knows every actor that reports figures and gathers them on request.
using stats_actor = caf::typed_actor<
  caf::reacts_to<register_atom, caf::actor>,  // an actor answering stats_atom with actor_stats
  caf::replies_to<stats_atom>::with<std::vector<actor_stats>>>;

}  // namespace iota::msg
