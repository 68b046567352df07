#pragma once
// Instance count and capacity (shared/SPEC.md section 3): the seed's option bounds and arithmetic.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace iota::model {

inline constexpr int default_init_instances = 10;
inline constexpr int default_max_instances = 100;
inline constexpr int default_resource_per_instance = 5000;

// The seed's constructor bounds. Note the defaults themselves (100, 5000) lie outside the
// "valid" ranges: the seed treats them as what an out-of-range value falls back to.
inline bool init_instances_in_range(std::int64_t v) { return v >= 1; }
inline bool max_instances_in_range(std::int64_t v) { return 3 <= v && v < 100; }
inline bool resource_per_instance_in_range(std::int64_t v) { return 0 < v && v < 5000; }

struct resource_options {
  int init_instances = default_init_instances;
  int max_instances = default_max_instances;
  int resource_per_instance = default_resource_per_instance;
};

// Config-file semantics: an out-of-range value falls back to the default, with a warning
// naming the key. `raw_*` are the values as written (absent -> default, no warning).
struct normalized_options {
  resource_options options;
  std::vector<std::string> warnings;
};
normalized_options normalize_options(std::optional<std::int64_t> raw_init_instances,
                                     std::optional<std::int64_t> raw_max_instances,
                                     std::optional<std::int64_t> raw_resource_per_instance);

// An orchestrate request body (section 3 and 7): options present but out of range or not
// integers are refused with a message naming the option and its valid range; absent options
// take the configured value. `dryRun` may be given as a boolean. Unknown keys are refused, so
// a misspelt option never silently falls back to the configured value.
struct orchestrate_request {
  resource_options options;
  bool dry_run = false;
};
std::variant<orchestrate_request, std::string>
parse_orchestrate_request(const nlohmann::json& body, const resource_options& configured);

// The result of section 3's arithmetic.
struct instance_plan {
  int instances = 0;
  int capacity = 0;  // each instance's "count"
  friend bool operator==(const instance_plan& a, const instance_plan& b) {
    return a.instances == b.instances && a.capacity == b.capacity;
  }
};

// Section 3 steps 1-3, exactly: instances = floor(count / rpi) + 1; over max -> the seed's
// error text "require instances more than the max: <instances>/<maxInstances>"; under init ->
// instances = init and capacity = floor(count / instances) + 1.
std::variant<instance_plan, std::string> plan_instances(std::size_t count,
                                                        const resource_options& options);

}  // namespace iota::model
