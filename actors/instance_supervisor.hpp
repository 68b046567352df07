#pragma once
// One per instance: owns that instance's pod lifecycle. It makes sure the pod exists,
// restarts it (delete, then create) when it missed its heartbeats or its pod died, gives a
// new or restarted instance a grace period before heartbeat checks apply, and backs off
// exponentially when one instance is restarted again and again (crash loop).
#include <chrono>
#include <memory>

#include <caf/fwd.hpp>

#include "io/instance_driver.hpp"
#include "messages/liveness.hpp"

namespace iota::actors {

class decision_log;

struct supervisor_settings {
  std::chrono::milliseconds grace_period{90000};
  std::chrono::milliseconds max_backoff{600000};
  std::chrono::milliseconds first_backoff{10000};  // the second restart in a row waits this
  std::chrono::milliseconds retry_delay{2000};     // after a failed or conflicting driver call
  std::shared_ptr<decision_log> history;           // SPEC 14: restarts and backoffs; may be null
};

msg::supervisor_actor spawn_instance_supervisor(caf::actor_system& sys, io::instance_ref instance,
                                                supervisor_settings settings,
                                                std::shared_ptr<io::instance_driver> driver);

}  // namespace iota::actors
