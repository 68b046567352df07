#pragma once
// How the daemon's actor system schedules: set once at start (and by the benches, so they
// measure what the daemon runs).
#include <caf/fwd.hpp>

namespace iota::actors {

// CAF 0.17's work-stealing workers poll for work before they sleep: 100 busy polls, then 500
// polls 50 us apart (25 ms), before waiting on a condition variable that an enqueue wakes. On
// a small machine that polling took about a third of the daemon's CPU under a steady stream
// (a worker falls idle between messages thousands of times a second), CPU the ZooKeeper
// client, paho and the server need. A few polls keep the hand-off between busy actors fast;
// beyond them a worker sleeps until woken. One worker per core.
void tune_scheduler(caf::actor_system_config& cfg);

}  // namespace iota::actors
