#pragma once
// One per resource type: the instance side of an orchestration. It follows the orchestrator's
// instance added/removed messages, runs one instance_supervisor per instance, and routes
// heartbeats, pod phases, checks and restarts to them.
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "actors/instance_supervisor.hpp"
#include "messages/liveness.hpp"

namespace iota::actors {

struct fleet_settings {
  std::string resource;
  std::string instance_name;
  supervisor_settings supervisor;
};

msg::fleet_actor spawn_instance_fleet(caf::actor_system& sys, fleet_settings settings,
                                      std::shared_ptr<io::instance_driver> driver);

}  // namespace iota::actors
