#pragma once
// Snapshots the orchestrator hands to the REST API, and their JSON shapes (SPEC section 7).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "model/orchestration.hpp"
#include "model/planner.hpp"

namespace iota::model {

struct instance_status {
  instance_id id = 0;
  std::size_t used = 0;
  int count = 0;
  std::int64_t reload_times = 0;
};

struct orchestration_status {
  std::string resource;
  bool ready = false;                 // rebuilt from ZooKeeper and writing
  bool orchestrating = false;
  bool orchestrate_success = false;   // outcome of the last orchestrate this daemon ran
  std::string last_error;             // why the last orchestrate failed, if it did
  std::size_t resources = 0;          // ids placed
  std::size_t queued_events = 0;      // waiting to be written
  std::vector<instance_status> instances;
};

orchestration_status snapshot(const std::string& resource, const orchestration& state);

// {"resource":"Thing","orchestrating":false,"orchestrateSuccess":true,"resources":n,
//  "instances":[{"id":"0","used":..,"count":..,"reloadTimes":..}], ...}
nlohmann::json to_json(const orchestration_status& s);

// A dry run's answer: what an orchestrate would do.
nlohmann::json to_json(const orchestrate_plan& p, std::size_t max_listed_moves = 1000);

}  // namespace iota::model
