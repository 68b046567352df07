#include "actors/kafka_bridge.hpp"

#include <chrono>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/probe.hpp"
#include "io/log.hpp"
#include "model/heartbeat.hpp"

namespace iota::actors {

namespace {

struct bridge_state {
  std::string resource;
  msg::fleet_actor fleet;
  bool healthy = true;
  std::uint64_t heartbeats = 0;  // since the ticker last asked
  std::set<model::heartbeat_rejection> reported;
  actor_probe probe;
  std::string log_name;
  static inline const char* name = "kafka_bridge";
};

using self_ptr = msg::kafka_bridge_actor::stateful_pointer<bridge_state>;

}  // namespace

msg::kafka_bridge_actor spawn_kafka_bridge(caf::actor_system& sys, std::string resource,
                                           msg::fleet_actor fleet) {
  return sys.spawn([resource, fleet](self_ptr self) -> msg::kafka_bridge_actor::behavior_type {
    auto& st = self->state;
    st.resource = resource;
    st.fleet = fleet;
    st.log_name = "kafka[" + resource + "]";
    st.probe.rename("kafka_bridge/" + resource);
    return {
      [=](msg::kafka_atom, const std::string& value) {
        auto& st = self->state;
        auto t = st.probe.measure("kafka");
        // Every type's consumer reads the whole topic: skip the other types' heartbeats before
        // the (costly) JSON parse. Those are counted as before; a message naming this type
        // still gets the full parse and check below.
        if (!model::may_be_heartbeat_for(value, st.resource)) {
          st.probe.add("ignored_other_resource");
          return;
        }
        auto parsed = model::parse_heartbeat(value);
        if (auto* why = std::get_if<model::heartbeat_rejection>(&parsed)) {
          std::string reason{model::to_string(*why)};
          st.probe.add(("dropped_" + reason).c_str());
          if (st.reported.insert(*why).second) {
            auto sample = value.substr(0, 200);
            for (auto& c : sample)
              if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
                c = '?';
            log::warn(st.log_name, "dropping heartbeats of kind " + reason +
                                     " (counted in stats; logged once), e.g.: " + sample);
          }
          return;
        }
        auto& hb = std::get<model::heartbeat>(parsed);
        if (hb.resource != st.resource) {
          st.probe.add("ignored_other_resource");
          return;
        }
        st.probe.add("heartbeats_received");
        ++st.heartbeats;
        auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
        self->send(st.fleet, msg::heartbeat_atom::value, hb.instance_id, static_cast<std::int64_t>(now_ms));
      },
      [=](msg::kafka_state_atom, bool healthy, const std::string& detail) {
        auto& st = self->state;
        if (healthy != st.healthy)
          (healthy ? log::info : log::warn)(st.log_name, std::string{healthy ? "consumer healthy" : "consumer error"} +
                                                           (detail.empty() ? "" : ": " + detail));
        st.healthy = healthy;
        st.probe.set("consumer_healthy", healthy ? 1 : 0);
      },
      [=](msg::channel_atom) -> msg::channel_health {
        auto& st = self->state;
        msg::channel_health h{st.healthy, st.heartbeats};
        st.heartbeats = 0;
        return h;
      },
      [=](msg::stats_atom) -> msg::actor_stats { return self->state.probe.snapshot(mailbox_depth(self)); },
    };
  });
}

}  // namespace iota::actors
