#pragma once
// The one place that wires the daemon together, with an explicit start and stop order.

namespace iota::apps {

// Runs the daemon until SIGINT/SIGTERM. Returns the process exit code (2: config error).
int run_daemon(int argc, char** argv);

}  // namespace iota::apps
