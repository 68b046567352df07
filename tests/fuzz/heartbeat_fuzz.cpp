// libFuzzer: the Kafka heartbeat value parser (model/heartbeat, SPEC section 5).
// Properties: never throws; an accepted heartbeat names a non-empty resource and an
// instance id in [0, 999999999].
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "model/heartbeat.hpp"

using namespace iota::model;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view value(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_heartbeat(value, 4096);
  if (auto* hb = std::get_if<heartbeat>(&parsed)) {
    if (hb->resource.empty() || hb->instance_id < 0 || hb->instance_id > 999'999'999)
      std::abort();
  } else if (to_string(std::get<heartbeat_rejection>(parsed)).empty()) {
    std::abort();
  }
  return 0;
}
