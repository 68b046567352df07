#include "actors/stats.hpp"

#include <algorithm>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/probe.hpp"

namespace iota::actors {

namespace {

struct stats_state {
  std::vector<caf::actor> sources;
  actor_probe probe{"stats"};
  static inline const char* name = "stats";
};

msg::stats_actor::behavior_type stats_behavior(msg::stats_actor::stateful_pointer<stats_state> self) {
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& v = self->state.sources;
    v.erase(std::remove_if(v.begin(), v.end(), [&](const caf::actor& a) { return a.address() == dm.source; }),
            v.end());
  });
  return {
    [=](msg::register_atom, caf::actor source) {
      auto t = self->state.probe.measure("register");
      self->monitor(source);
      self->state.sources.push_back(std::move(source));
    },
    [=](msg::stats_atom) -> caf::result<std::vector<msg::actor_stats>> {
      auto t = self->state.probe.measure("stats");
      auto rp = self->make_response_promise<std::vector<msg::actor_stats>>();
      struct gather {
        std::vector<msg::actor_stats> figures;
        std::size_t waiting = 0;
      };
      auto g = std::make_shared<gather>();
      g->figures.push_back(self->state.probe.snapshot(mailbox_depth(self)));
      g->waiting = self->state.sources.size();
      if (g->waiting == 0) {
        rp.deliver(std::move(g->figures));
        return rp;
      }
      for (auto& src : self->state.sources) {
        // A source that does not answer in time is left out rather than holding the API up.
        self->request(src, std::chrono::seconds(2), msg::stats_atom::value)
          .then(
            [=](msg::actor_stats& s) mutable {
              g->figures.push_back(std::move(s));
              if (--g->waiting == 0)
                rp.deliver(std::move(g->figures));
            },
            [=](caf::error&) mutable {
              if (--g->waiting == 0)
                rp.deliver(std::move(g->figures));
            });
      }
      return rp;
    },
  };
}

}  // namespace

msg::stats_actor spawn_stats(caf::actor_system& sys) { return sys.spawn(stats_behavior); }

}  // namespace iota::actors
