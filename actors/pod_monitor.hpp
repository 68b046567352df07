#pragma once
// Daemon-wide: every period (default 60 s) has each instance's pod checked, as the seed does
// (Running/Pending fine; Succeeded/Failed/Unknown -> delete and recreate; missing -> create),
// and forwards the driver's phase changes as they happen. Both go through the instance
// supervisors, so restarts keep their backoff and counting.
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "io/instance_driver.hpp"
#include "messages/liveness.hpp"

namespace iota::actors {

// Registers itself as the driver's watcher.
msg::pod_monitor_actor spawn_pod_monitor(caf::actor_system& sys, std::chrono::milliseconds period,
                                    std::map<std::string, msg::fleet_actor> fleets,
                                    const std::shared_ptr<io::instance_driver>& driver);

}  // namespace iota::actors
