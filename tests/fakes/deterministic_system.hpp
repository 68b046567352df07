#pragma once
// An actor system on CAF's deterministic test scheduler: nothing runs until the test says
// so (sched.run()), timers fire only on sched.trigger_timeouts().
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "messages/atoms.hpp"
#include "messages/stats.hpp"

namespace iota::test {

struct deterministic_system {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  caf::scheduler::test_coordinator& sched;

  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.set("scheduler.policy", caf::atom("testing"));
    c.set("logger.file-verbosity", caf::atom("quiet"));
    return c;
  }

  deterministic_system()
      : sys(init(cfg)),
        self(sys, true),
        sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {}

  // One domain counter of `actor`'s stats (0 if it has none), asked and answered here.
  template <class Handle>
  std::int64_t stats_counter(const Handle& actor, const std::string& name) {
    std::int64_t out = 0;
    auto rh = self->request(actor, caf::infinite, msg::stats_atom::value);
    sched.run();
    rh.receive(
      [&](msg::actor_stats& s) {
        for (auto& [k, v] : s.counters)
          if (k == name)
            out = v;
      },
      [&](caf::error& e) { FAIL(sys.render(e)); });
    return out;
  }
};

}  // namespace iota::test
