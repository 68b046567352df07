#pragma once
// The local-process driver (SPEC section 6): each instance is a child process run
// from its resource's pod template, so the whole system runs without a cluster.
//
// - argv = command + args of container 0 (+ `extra_args`); the command is looked up in
//   `bin_dir` first, then in $PATH (a command with a '/' is used as is).
// - env = the template's env in template order (env[0] = the instance id, so it is also the
//   first variable of the process), with `env_overrides` replacing or adding values (never
//   env[0]), then the daemon's own environment for every other name.
// - stdout and stderr are appended to `<log_dir>/<pod name>.log` (log_dir is created if
//   needed; empty: the daemon's own stdout/stderr); stdin is /dev/null. Each child leads its
//   own process group (signals go to the group) and gets SIGKILL if the daemon dies
//   (PR_SET_PDEATHSIG).
// - Phases: running -> Running; exited 0 -> Succeeded; other exit or a signal -> Failed
//   (detail "exit code N" / "signal N"); never started or removed -> Missing. Running
//   statuses carry "pid N" in their detail. A pod being removed stays Running (detail
//   "terminating, pid N") until its process is gone, then turns Missing.
// - create() of an instance whose process is running or terminating answers `conflict` (the
//   409 of Kubernetes); of one whose process has exited (Succeeded/Failed) it replaces the
//   dead record and starts a new process. A spawn failure (no template, command not found,
//   exec error) answers `error` and the instance stays Missing.
// - remove(): SIGTERM to the process group, SIGKILL after `kill_grace`; `done` runs once the
//   process is reaped, then the watch hears Missing. An exited instance is just forgotten
//   (ok, Missing). Unknown or already removed: `not_found`.
// - Exits are noticed as they happen (pidfd per child on one poll loop; where the kernel has
//   no pidfd_open, waitpid(WNOHANG) every 50 ms). Only the driver's own children are waited
//   for, by PID, so other children of the process are left alone.
//
// Threads: one driver thread does all the work (spawning, signalling, reaping) and runs every
// callback; calls from any thread only queue work, so the driver is thread-safe. Callbacks
// must not call stop() or destroy the driver (stop() joins that thread). After stop(), calls
// complete at once on the caller's thread with `error` ("driver stopped"); get() answers
// Missing. stop() terminates every child (SIGTERM, then SIGKILL after kill_grace), reaps all,
// completes pending remove()s with ok, and runs no watch callback any more.
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/instance_driver.hpp"

namespace iota::io {

struct local_driver_settings {
  std::string log_dir;
  // e.g. IOTA_ZOOKEEPER, IOTA_KAFKA_BROKERS of the daemon, replacing the template's values.
  std::vector<std::pair<std::string, std::string>> env_overrides;
  std::vector<std::string> extra_args;
  // Where to look for the template's command first (the daemon's own dir), then $PATH.
  std::string bin_dir;
  std::chrono::milliseconds kill_grace{5000};
};

std::unique_ptr<instance_driver> make_local_process_driver(local_driver_settings settings);

}  // namespace iota::io
