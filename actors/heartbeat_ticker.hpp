#pragma once
// Per resource with `heart: true`: every period, asks every instance whether it heart-beat
// since the last check (and resets its flag, as the seed does), then has the silent ones
// restarted — unless the heartbeat channel itself is down (consumer errors, or not one
// heartbeat from any instance in the period), or too many are silent at once (maintenance
// mode, with hysteresis), so a network blip never restarts the fleet.
#include <chrono>

#include <caf/fwd.hpp>

#include "messages/liveness.hpp"

namespace iota::actors {

struct ticker_settings {
  std::string resource;
  std::chrono::milliseconds period{90000};
  double max_offline_fraction = 0.5;  // enter maintenance above it, leave below half of it
};

// A hidden behaviour of the ticker worth a test of its own: what one period decides.
struct tick_decision {
  bool channel_down = false;
  bool maintenance = false;        // the mode after this period
  std::vector<int> restart;        // instances to restart for missing heartbeats
};
tick_decision decide_tick(const std::vector<msg::check_result>& checks, const msg::channel_health& channel,
                          bool was_in_maintenance, double max_offline_fraction);

msg::ticker_actor spawn_heartbeat_ticker(caf::actor_system& sys, ticker_settings settings,
                                    msg::fleet_actor fleet, msg::kafka_bridge_actor channel);

}  // namespace iota::actors
