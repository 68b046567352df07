#pragma once
// The ZooKeeper layout of shared/SPEC.md section 2: paths and data bytes exactly as the
// original service writes them (JSON.stringify output), and tolerant parsers of the same.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/orchestration.hpp"

namespace iota::model {

inline constexpr std::string_view orchestration_root = "/iota/orchestration";
// Leader election (SPEC 10): one parent per resource type, /iota/orchestrator/leader/<R>,
// outside the orchestration root that workers read.
inline constexpr std::string_view election_root = "/iota/orchestrator/leader";
// Fences a multi when we hold no election znode: it never exists, so the multi fails.
inline constexpr std::string_view absent_fence_path = "/iota/orchestrator/leader/-none-";

std::string resource_path(std::string_view resource);  // /iota/orchestration/<R>
std::string instance_path(std::string_view resource_root, instance_id id);
std::string tmp_path(std::string_view resource_root, instance_id id);
std::string reload_path(std::string_view resource_root, instance_id id);
std::string resources_path(std::string_view resource_root, instance_id id);

// A child of the resource root that names an instance: a canonical non-negative decimal
// integer ("0", "12"; not "012", "-1" or "x"). Other children are not instances.
std::optional<instance_id> parse_instance_name(std::string_view child);

// {"used":<n>,"count":<c>} in that key order.
std::string encode_instance_data(std::size_t used, int count);
// {"times":<n>}
std::string encode_reload(std::int64_t times);
// {"ids":["a","b"]}; strings escaped as JSON.stringify does.
std::string encode_resources(const std::vector<std::string>& ids);
// The `tmp` znode is created empty.
inline std::string encode_tmp() { return {}; }

// Appends `s` as a JSON string literal (quotes included), escaped as JSON.stringify does.
void append_json_string(std::string& out, std::string_view s);

struct instance_data {
  std::int64_t used = 0;
  std::int64_t count = 0;
};
// Tolerant of key order, extra keys and whitespace; nullopt when not that shape.
std::optional<instance_data> decode_instance_data(std::string_view bytes);
std::optional<std::int64_t> decode_reload(std::string_view bytes);
// Numeric ids become their decimal string; other element types make the whole value invalid.
std::optional<std::vector<std::string>> decode_resources(std::string_view bytes);

}  // namespace iota::model
