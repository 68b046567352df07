#include "model/pod_phase.hpp"

namespace iota::model {

std::string_view to_string(pod_phase p) {
  switch (p) {
    case pod_phase::pending: return "Pending";
    case pod_phase::running: return "Running";
    case pod_phase::succeeded: return "Succeeded";
    case pod_phase::failed: return "Failed";
    case pod_phase::unknown: return "Unknown";
    case pod_phase::missing: return "Missing";
  }
  return "Unknown";
}

}  // namespace iota::model
