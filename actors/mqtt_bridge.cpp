#include "actors/mqtt_bridge.hpp"

#include "actors/decision_log.hpp"

#include <set>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/probe.hpp"
#include "io/log.hpp"
#include "io/notify_intake.hpp"
#include "messages/errors.hpp"

namespace iota::actors {

namespace {

struct retry_entry {
  std::uint64_t seq;
  std::string resource;
  msg::resource_event event;
};

struct bridge_state {
  mqtt_bridge_settings cfg;
  std::map<std::string, msg::orchestrator_actor> orchestrators;
  std::shared_ptr<io::notify_settlement> intake;
  // seq -> orchestrator answers still awaited. Seqs arrive in order, so every notify below the
  // lowest one still here is durable.
  struct awaited {
    std::size_t answers = 0;                       // orchestrator answers still awaited
    std::chrono::steady_clock::time_point taken;   // when the notify reached the bridge
  };
  std::map<std::uint64_t, awaited> outstanding;
  std::uint64_t last_seq = 0;
  bool replay_durable = false;
  std::set<model::rejection> reported;  // reasons already logged with a sample
  std::uint64_t next_retry = 0;
  std::map<std::uint64_t, retry_entry> retries;
  actor_probe probe{"mqtt_bridge"};
  static inline const char* name = "mqtt_bridge";
};

using self_ptr = msg::mqtt_bridge_actor::stateful_pointer<bridge_state>;

// One notify became durable: its slot goes back and the durable mark moves to just below the
// lowest notify still awaited.
void settle_one(self_ptr self) {
  auto& st = self->state;
  auto frontier = st.outstanding.empty() ? st.last_seq : st.outstanding.begin()->first - 1;
  st.intake->settle(1, frontier);
  if (!st.replay_durable && st.cfg.replay_until > 0 && frontier >= st.cfg.replay_until) {
    st.replay_durable = true;
    if (st.cfg.replay_listener)
      caf::anon_send(st.cfg.replay_listener, msg::replay_durable_atom::value);
  }
  st.probe.set("journal_committed", static_cast<std::int64_t>(frontier));
  st.probe.set("in_flight", static_cast<std::int64_t>(st.outstanding.size()));
}

void finish_one(self_ptr self, std::uint64_t seq) {
  auto& st = self->state;
  auto it = st.outstanding.find(seq);
  if (it == st.outstanding.end())
    return;
  if (--it->second.answers > 0)
    return;
  st.probe.observe("notify_durable_duration", std::chrono::steady_clock::now() - it->second.taken);
  st.outstanding.erase(it);
  st.probe.add("notifies_durable");
  settle_one(self);
}

void dispatch(self_ptr self, std::uint64_t seq, const std::string& resource, msg::resource_event ev) {
  auto& st = self->state;
  auto target = st.orchestrators.find(resource);
  if (target == st.orchestrators.end()) {  // routing and orchestrators come from one config
    finish_one(self, seq);
    return;
  }
  auto retry_copy = ev;
  self->request(target->second, caf::infinite, msg::apply_atom::value, std::move(ev))
    .then([self, seq](msg::event_ack&) { finish_one(self, seq); },
          [self, seq, resource, retry_copy](caf::error& e) mutable {
            // Refused for now (queue full, ZooKeeper failing): try again later, never drop.
            auto& st = self->state;
            st.probe.add("retries");
            if (st.probe.get("retries") % 100 == 1)
              log::warn("mqtt_bridge", "orchestrator of " + resource + " refused a notify (" +
                                         msg::refusal_text(e) + "); retrying");
            auto id = st.next_retry++;
            st.retries.emplace(id, retry_entry{seq, resource, std::move(retry_copy)});
            self->delayed_send(self, st.cfg.retry_delay, msg::retry_atom::value, id);
          });
}

void drop(self_ptr self, std::uint64_t seq, model::rejection why, const std::string& payload) {
  auto& st = self->state;
  std::string reason{model::to_string(why)};
  st.probe.add(("dropped_" + reason).c_str());
  if (st.reported.insert(why).second) {
    auto sample = payload.substr(0, 200);
    for (auto& c : sample)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
        c = '?';
    log::warn("mqtt_bridge", "dropping notifies of kind " + reason + " (counted in stats; logged once), e.g. " +
                               std::to_string(payload.size()) + " bytes: " + sample);
  }
  model::decision d;  // SPEC 14: a dropped notify, with its reason
  d.kind = "dropped";
  d.cause = reason;
  d.detail = std::to_string(payload.size()) + " bytes";
  record(st.cfg.history.get(), std::move(d));
  st.probe.add("notifies_durable");  // nothing to wait for: settled at once
  settle_one(self);
}

msg::mqtt_bridge_actor::behavior_type bridge_behavior(
  self_ptr self, mqtt_bridge_settings cfg, std::map<std::string, msg::orchestrator_actor> orchestrators,
  std::shared_ptr<io::notify_settlement> intake) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.orchestrators = std::move(orchestrators);
  st.intake = std::move(intake);
  st.last_seq = st.intake->durable_mark();
  return {
    [=](msg::notify_atom, std::uint64_t seq, const std::string& payload) {
      auto& st = self->state;
      auto t = st.probe.measure("notify");
      st.probe.add("notifies_received");
      st.last_seq = std::max(st.last_seq, seq);
      auto parsed = model::parse_notify(payload, st.cfg.limits);
      if (auto* why = std::get_if<model::rejection>(&parsed)) {
        drop(self, seq, *why, payload);
        return;
      }
      auto routed = model::route_notify(std::get<model::notify>(parsed), st.cfg.routing);
      if (auto* why = std::get_if<model::rejection>(&routed)) {
        drop(self, seq, *why, payload);
        return;
      }
      auto& actions = std::get<std::vector<model::resource_action>>(routed);
      st.outstanding.emplace(seq, bridge_state::awaited{actions.size(), std::chrono::steady_clock::now()});
      for (auto& a : actions)
        dispatch(self, seq, a.resource, msg::resource_event{a.kind, std::move(a.ids)});
    },
    [=](msg::mqtt_state_atom, bool connected, const std::string& detail) {
      auto& st = self->state;
      st.probe.set("broker_connected", connected ? 1 : 0);
      if (!connected)
        st.probe.add("broker_disconnects");
      log::info("mqtt_bridge", std::string{connected ? "broker connected" : "broker lost"} +
                                 (detail.empty() ? "" : ": " + detail));
    },
    [=](msg::stats_atom) -> msg::actor_stats {
      auto t = self->state.probe.measure("stats");
      self->state.probe.set("window_in_use", static_cast<std::int64_t>(self->state.intake->in_flight()));
      return self->state.probe.snapshot(mailbox_depth(self));
    },
    [=](msg::retry_atom, std::uint64_t id) {
      auto& st = self->state;
      auto it = st.retries.find(id);
      if (it == st.retries.end())
        return;
      auto e = std::move(it->second);
      st.retries.erase(it);
      dispatch(self, e.seq, e.resource, std::move(e.event));
    },
  };
}

}  // namespace

msg::mqtt_bridge_actor spawn_mqtt_bridge(caf::actor_system& sys, mqtt_bridge_settings settings,
                                         std::map<std::string, msg::orchestrator_actor> orchestrators,
                                         std::shared_ptr<io::notify_settlement> intake) {
  return sys.spawn(bridge_behavior, std::move(settings), std::move(orchestrators), std::move(intake));
}

}  // namespace iota::actors
