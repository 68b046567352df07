#include "actors/pod_monitor.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/probe.hpp"

namespace iota::actors {

namespace {

struct monitor_state {
  std::chrono::milliseconds period;
  std::map<std::string, msg::fleet_actor> fleets;
  actor_probe probe{"pod_monitor"};
  static inline const char* name = "pod_monitor";
};

using self_ptr = msg::pod_monitor_actor::stateful_pointer<monitor_state>;

}  // namespace

msg::pod_monitor_actor spawn_pod_monitor(caf::actor_system& sys, std::chrono::milliseconds period,
                                    std::map<std::string, msg::fleet_actor> fleets,
                                    const std::shared_ptr<io::instance_driver>& driver) {
  auto hdl = sys.spawn([period, fleets](self_ptr self) -> msg::pod_monitor_actor::behavior_type {
    self->state.period = period;
    self->state.fleets = fleets;
    self->delayed_send(self, period, caf::tick_atom::value);
    return {
      [=](caf::tick_atom) {
        auto t = self->state.probe.measure("tick");
        self->delayed_send(self, self->state.period, caf::tick_atom::value);
        for (auto& [_, f] : self->state.fleets)
          self->send(f, msg::pod_check_atom::value);
        self->state.probe.add("pod_checks");
      },
      [=](msg::phase_atom, const std::string& resource, int id, model::pod_phase phase, const std::string& detail) {
        auto t = self->state.probe.measure("phase");
        auto it = self->state.fleets.find(resource);
        if (it == self->state.fleets.end()) {  // a pod of no configured resource: counted, not routed
          self->state.probe.add("phase_events_unknown_resource");
          return;
        }
        self->state.probe.add("phase_events");
        self->send(it->second, msg::phase_atom::value, id, phase, detail);
      },
      [=](msg::stats_atom) -> msg::actor_stats { return self->state.probe.snapshot(mailbox_depth(self)); },
    };
  });
  msg::pod_monitor_actor monitor = hdl;
  driver->watch([monitor](io::pod_status s) {
    caf::anon_send(monitor, msg::phase_atom::value, s.instance.resource, s.instance.id,
                   s.phase, s.detail);
  });
  return hdl;
}

}  // namespace iota::actors
