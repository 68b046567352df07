#pragma once
// How instances (pods) are created, deleted and observed (SPEC sections 5 and 6). Two
// implementations: the local-process driver (the embedded default: each instance a child
// process run from the pod template) and the Kubernetes pods API client. Every call returns
// at once; its callback runs later on the driver's own thread (never an actor's), so callers
// turn results into messages.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/pod_phase.hpp"

namespace iota::io {

using model::pod_phase;
using model::to_string;

// Which instance: pods are named "<instance_name>-<id>" (SPEC section 6).
struct instance_ref {
  std::string resource;       // "Thing"
  std::string instance_name;  // "iota-dac"
  int id = 0;
  std::string pod_name() const { return instance_name + "-" + std::to_string(id); }
};

struct pod_status {
  instance_ref instance;
  pod_phase phase = pod_phase::unknown;
  std::string detail;  // e.g. "exit code 3", "signal 9", the API's reason
};

struct driver_result {
  enum class code {
    ok,
    conflict,   // 409: the pod is still terminating; retry later, never give up
    not_found,  // 404 on delete: counts as deleted
    error,      // anything else (network, 5xx, spawn failure); retry later
  };
  code status = code::ok;
  std::string detail;
  bool ok() const { return status == code::ok; }
};

class instance_driver {
 public:
  virtual ~instance_driver() = default;
  using result_fn = std::function<void(driver_result)>;
  using status_fn = std::function<void(pod_status)>;

  // The pod template of each resource type, before any instance is created.
  virtual void add_template(const std::string& resource, const std::string& instance_name,
                            const std::string& template_yaml) = 0;
  // Creates the instance's pod (or process) from its resource's template with metadata.name,
  // labels.instanceId and env[0] set to the instance (SPEC section 6).
  virtual void create(const instance_ref& instance, result_fn done) = 0;
  // Deletes it (gracePeriodSeconds 0; a local process gets SIGTERM then SIGKILL).
  virtual void remove(const instance_ref& instance, result_fn done) = 0;
  // The current phase; `missing` when there is no such pod (404).
  virtual void get(const instance_ref& instance, status_fn done) = 0;
  // Phase changes as they happen (watch stream / child exit), for every instance the driver
  // knows of. Set once, before create().
  virtual void watch(status_fn on_change) = 0;
  // Stops watching; the local driver also stops every process it started (no orphans).
  virtual void stop() = 0;
  // Tells the platform about a decision on the instance (SPEC 14): the Kubernetes driver posts
  // a core/v1 Event on the pod, so `kubectl get events` shows it; the local driver has none.
  // Fire and forget: a failure is logged, never retried.
  virtual void record_event(const instance_ref& instance, const std::string& reason, const std::string& message) {
    (void)instance;
    (void)reason;
    (void)message;
  }
};

}  // namespace iota::io
