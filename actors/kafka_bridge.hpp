#pragma once
// Per resource with `heart: true`: turns consumed HeartBeat messages into heartbeats for the
// fleet. Messages for other resources are ignored; garbage is counted by reason, logged once
// per reason with a sample, and dropped. Tells the ticker whether the channel is healthy.
#include <string>

#include <caf/fwd.hpp>

#include "messages/liveness.hpp"

namespace iota::actors {

msg::kafka_bridge_actor spawn_kafka_bridge(caf::actor_system& sys, std::string resource,
                                           msg::fleet_actor fleet);

}  // namespace iota::actors
