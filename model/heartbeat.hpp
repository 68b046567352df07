#pragma once
// Heartbeats (SPEC section 5): Kafka message values {"resource":"Thing","instanceId":"3",...}
// with instanceId a string or a number. Messages for other resources are ignored.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace iota::model {

enum class heartbeat_rejection {
  not_json,        // not JSON, or not an object
  missing_resource,
  missing_instance,
  bad_instance,    // not a canonical non-negative integer (string or number)
  too_large,
};

std::string_view to_string(heartbeat_rejection r);

struct heartbeat {
  std::string resource;
  int instance_id = 0;
  std::optional<std::int64_t> ts_ms;  // the worker's "ts", when given as an integer
};

std::variant<heartbeat, heartbeat_rejection> parse_heartbeat(std::string_view value,
                                                             std::size_t max_bytes = 64 * 1024);

// A cheap test before parse_heartbeat, for a consumer that reads every resource type's
// heartbeats: false only if `value` cannot be a heartbeat of `resource`, because its raw bytes
// hold neither the JSON string `"<resource>"` nor a backslash (an escape could spell the name
// differently). True also when `resource` is empty or has a character JSON escapes. A true
// answer proves nothing: the message still needs parse_heartbeat and a comparison.
bool may_be_heartbeat_for(std::string_view value, std::string_view resource);

}  // namespace iota::model
