#include "model/heartbeat.hpp"

#include <nlohmann/json.hpp>

#include "model/json_depth.hpp"
#include "model/zk_layout.hpp"

namespace iota::model {

std::string_view to_string(heartbeat_rejection r) {
  switch (r) {
    case heartbeat_rejection::not_json: return "not_json";
    case heartbeat_rejection::missing_resource: return "missing_resource";
    case heartbeat_rejection::missing_instance: return "missing_instance";
    case heartbeat_rejection::bad_instance: return "bad_instance";
    case heartbeat_rejection::too_large: return "too_large";
  }
  return "unknown";
}

std::variant<heartbeat, heartbeat_rejection> parse_heartbeat(std::string_view value,
                                                             std::size_t max_bytes) {
  if (value.size() > max_bytes)
    return heartbeat_rejection::too_large;
  // Heartbeats are flat objects: refuse deep nesting before the recursive parser sees it.
  if (!json_nesting_within(value, 32))
    return heartbeat_rejection::not_json;
  auto j = nlohmann::json::parse(value.begin(), value.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return heartbeat_rejection::not_json;
  auto r = j.find("resource");
  if (r == j.end() || !r->is_string() || r->get_ref<const std::string&>().empty())
    return heartbeat_rejection::missing_resource;
  auto i = j.find("instanceId");
  if (i == j.end() || i->is_null())
    return heartbeat_rejection::missing_instance;
  heartbeat hb;
  hb.resource = r->get<std::string>();
  if (i->is_string()) {
    auto id = parse_instance_name(i->get_ref<const std::string&>());
    if (!id)
      return heartbeat_rejection::bad_instance;
    hb.instance_id = *id;
  } else if (i->is_number_unsigned() && i->get<std::uint64_t>() <= 999'999'999u) {
    hb.instance_id = static_cast<int>(i->get<std::uint64_t>());
  } else if (i->is_number_integer() && !i->is_number_unsigned() && i->get<std::int64_t>() >= 0 &&
             i->get<std::int64_t>() <= 999'999'999) {
    hb.instance_id = static_cast<int>(i->get<std::int64_t>());
  } else {
    return heartbeat_rejection::bad_instance;
  }
  if (auto ts = j.find("ts"); ts != j.end() && ts->is_number_integer())
    hb.ts_ms = ts->get<std::int64_t>();
  return hb;
}

bool may_be_heartbeat_for(std::string_view value, std::string_view resource) {
  if (resource.empty())
    return true;
  for (char c : resource)
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
      return true;
  if (value.find('\\') != std::string_view::npos)
    return true;
  // `"<resource>"` without building a string: each `"` followed by the name and a `"`.
  for (auto pos = value.find('"'); pos != std::string_view::npos; pos = value.find('"', pos + 1)) {
    auto rest = value.substr(pos + 1);
    if (rest.size() > resource.size() && rest.compare(0, resource.size(), resource) == 0 &&
        rest[resource.size()] == '"')
      return true;
  }
  return false;
}

}  // namespace iota::model
