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
#include "model/take_entry.hpp"

namespace iota::actors {

namespace {

// Events for one orchestrator, and the notifies (journal seqs) they came from, one seq per
// event (a notify routed to one type once).
struct gathered {
  std::vector<std::uint64_t> seqs;
  std::shared_ptr<std::vector<msg::resource_event>> events =
    std::make_shared<std::vector<msg::resource_event>>();
};

struct retry_entry {
  std::string resource;
  std::vector<std::uint64_t> seqs;
  msg::event_batch events;
};

// Most events in one message to an orchestrator; beyond, the gathered events go at once.
constexpr std::size_t max_events_per_message = 10000;

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
  // Events gathered per resource type from the notifies read since the last flush; a flush
  // queued behind them in the mailbox sends each type's events as one message, so a burst
  // costs one request per type instead of one per notify.
  std::map<std::string, gathered> gathering;
  bool flush_queued = false;
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

void dispatch(self_ptr self, const std::string& resource, std::vector<std::uint64_t> seqs,
              msg::event_batch events) {
  auto& st = self->state;
  auto target = st.orchestrators.find(resource);
  if (target == st.orchestrators.end()) {  // routing and orchestrators come from one config
    for (auto seq : seqs)
      finish_one(self, seq);
    return;
  }
  st.probe.add("apply_messages");
  auto retry_events = events;  // the same events, shared: kept to send again if refused
  self->request(target->second, caf::infinite, msg::apply_atom::value, std::move(events))
    .then(
      [self, seqs](msg::event_ack&) {
        for (auto seq : seqs)
          finish_one(self, seq);
      },
      [self, resource, seqs, retry_events](caf::error& e) mutable {
        // Refused for now (queue full, ZooKeeper failing): try again later, never drop.
        auto& st = self->state;
        st.probe.add("retries");
        if (st.probe.get("retries") % 100 == 1)
          log::warn("mqtt_bridge", "orchestrator of " + resource + " refused " +
                                     std::to_string(retry_events->size()) + " events (" +
                                     msg::refusal_text(e) + "); retrying");
        auto id = st.next_retry++;
        st.retries.emplace(id, retry_entry{resource, std::move(seqs), std::move(retry_events)});
        self->delayed_send(self, st.cfg.retry_delay, msg::retry_atom::value, id);
      });
}

// Sends what was gathered, one message per resource type.
void flush(self_ptr self) {
  auto& st = self->state;
  st.flush_queued = false;
  auto gathering = std::move(st.gathering);
  st.gathering.clear();
  for (auto& [resource, g] : gathering)
    dispatch(self, resource, std::move(g.seqs), std::move(g.events));
}

void gather(self_ptr self, std::uint64_t seq, const std::string& resource, msg::resource_event ev) {
  auto& st = self->state;
  auto& g = st.gathering[resource];
  g.seqs.push_back(seq);
  g.events->push_back(std::move(ev));
  if (g.events->size() >= max_events_per_message) {
    auto full = std::move(g);
    st.gathering.erase(resource);
    dispatch(self, resource, std::move(full.seqs), std::move(full.events));
  } else if (!st.flush_queued) {
    st.flush_queued = true;
    self->send(self, msg::flush_atom::value);  // behind the notifies already waiting
  }
}

void drop(self_ptr self, model::rejection why, const std::string& payload) {
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
        drop(self, *why, payload);
        return;
      }
      auto routed = model::route_notify(std::get<model::notify>(parsed), st.cfg.routing);
      if (auto* why = std::get_if<model::rejection>(&routed)) {
        drop(self, *why, payload);
        return;
      }
      auto& actions = std::get<std::vector<model::resource_action>>(routed);
      st.outstanding.emplace(seq, bridge_state::awaited{actions.size(), std::chrono::steady_clock::now()});
      for (auto& a : actions)
        gather(self, seq, a.resource, msg::resource_event{a.kind, std::move(a.ids)});
    },
    [=](msg::flush_atom) {
      auto t = self->state.probe.measure("flush");
      flush(self);
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
      if (auto e = model::take_entry(self->state.retries, id))
        dispatch(self, e->resource, std::move(e->seqs), std::move(e->events));
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
