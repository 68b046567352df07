#include "actors/heartbeat_ticker.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/probe.hpp"
#include "io/log.hpp"

namespace iota::actors {

tick_decision decide_tick(const std::vector<msg::check_result>& checks, const msg::channel_health& channel,
                          bool was_in_maintenance, double max_offline_fraction) {
  tick_decision d;
  d.maintenance = was_in_maintenance;
  if (checks.empty())
    return d;
  std::vector<int> silent;
  for (auto& c : checks)
    if (c.silent && c.eligible)
      silent.push_back(c.id);
  // Nothing at all came through: the channel, not every worker, is the likely culprit.
  if (!channel.healthy || channel.heartbeats == 0) {
    d.channel_down = true;
    return d;
  }
  double fraction = static_cast<double>(silent.size()) / static_cast<double>(checks.size());
  if (!was_in_maintenance && fraction > max_offline_fraction)
    d.maintenance = true;
  else if (was_in_maintenance && fraction < max_offline_fraction / 2)
    d.maintenance = false;
  if (!d.maintenance)
    d.restart = std::move(silent);
  return d;
}

namespace {

struct ticker_state {
  ticker_settings cfg;
  msg::fleet_actor fleet;
  msg::kafka_bridge_actor channel;
  bool maintenance = false;
  actor_probe probe;
  std::string log_name;
  static inline const char* name = "heartbeat_ticker";
};

using self_ptr = msg::ticker_actor::stateful_pointer<ticker_state>;

void run_period(self_ptr self, msg::channel_health channel) {
  auto& st = self->state;
  self->request(st.fleet, std::chrono::seconds{30}, msg::check_atom::value)
    .then(
      [self, channel](std::vector<msg::check_result>& checks) {
        auto& st = self->state;
        auto d = decide_tick(checks, channel, st.maintenance, st.cfg.max_offline_fraction);
        if (d.channel_down) {
          st.probe.add("channel_down_periods");
          log::warn(st.log_name, std::string{"heartbeat channel down ("} +
                                   (channel.healthy ? "no heartbeat from any instance" : "consumer errors") +
                                   "): no instance restarted for missing heartbeats this period");
        }
        if (d.maintenance != st.maintenance) {
          log::warn(st.log_name, d.maintenance ? "entering maintenance mode: too many instances silent "
                                                 "at once; none restarted until fewer are"
                                               : "leaving maintenance mode");
          st.maintenance = d.maintenance;
          self->send(st.fleet, msg::maintenance_atom::value, d.maintenance);
        }
        st.probe.set("maintenance", st.maintenance ? 1 : 0);
        if (st.maintenance)
          st.probe.add("maintenance_periods");
        for (auto id : d.restart) {
          log::info(st.log_name, "Not receive heartBeat rightly, delete instance [" + std::to_string(id) + "]");
          self->send(st.fleet, msg::restart_atom::value, id, msg::restart_cause::heartbeat);
        }
        st.probe.add("heartbeat_restarts", static_cast<std::int64_t>(d.restart.size()));
      },
      [self](caf::error&) { self->state.probe.add("check_failures"); });
}

msg::ticker_actor::behavior_type ticker_behavior(self_ptr self, ticker_settings cfg, msg::fleet_actor fleet,
                                            msg::kafka_bridge_actor channel) {
  auto& st = self->state;
  st.log_name = "heartbeat[" + cfg.resource + "]";
  st.probe.rename("heartbeat_ticker/" + cfg.resource);
  st.cfg = std::move(cfg);
  st.fleet = std::move(fleet);
  st.channel = std::move(channel);
  self->delayed_send(self, st.cfg.period, caf::tick_atom::value);
  return {
    [=](caf::tick_atom) {
      auto& st = self->state;
      auto t = st.probe.measure("tick");
      self->delayed_send(self, st.cfg.period, caf::tick_atom::value);
      self->request(st.channel, std::chrono::seconds{10}, msg::channel_atom::value)
        .then([self](msg::channel_health& h) { run_period(self, h); },
              [self](caf::error&) { run_period(self, msg::channel_health{false, 0}); });
    },
    [=](msg::stats_atom) -> msg::actor_stats { return self->state.probe.snapshot(mailbox_depth(self)); },
  };
}

}  // namespace

msg::ticker_actor spawn_heartbeat_ticker(caf::actor_system& sys, ticker_settings settings,
                                    msg::fleet_actor fleet, msg::kafka_bridge_actor channel) {
  return sys.spawn(ticker_behavior, std::move(settings), std::move(fleet), std::move(channel));
}

}  // namespace iota::actors
