#pragma once
// A pod's phase as the drivers report it and the supervisors act on it (SPEC section 5);
// `missing` is ours: the pods API answered 404.
#include <string_view>

namespace iota::model {

enum class pod_phase { pending, running, succeeded, failed, unknown, missing };

// "Pending", "Running", "Succeeded", "Failed", "Unknown", "Missing"
std::string_view to_string(pod_phase p);

}  // namespace iota::model
