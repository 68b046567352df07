#include "model/zk_layout.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace iota::model {

std::string resource_path(std::string_view resource) {
  std::string out{orchestration_root};
  out += '/';
  out += resource;
  return out;
}

std::string instance_path(std::string_view resource_root, instance_id id) {
  std::string out{resource_root};
  out += '/';
  out += std::to_string(id);
  return out;
}

std::string tmp_path(std::string_view root, instance_id id) {
  return instance_path(root, id) + "/tmp";
}
std::string reload_path(std::string_view root, instance_id id) {
  return instance_path(root, id) + "/_reload";
}
std::string resources_path(std::string_view root, instance_id id) {
  return instance_path(root, id) + "/resources";
}

std::optional<instance_id> parse_instance_name(std::string_view child) {
  if (child.empty() || child.size() > 9)
    return std::nullopt;
  if (child.size() > 1 && child[0] == '0')
    return std::nullopt;
  instance_id v = 0;
  for (char c : child) {
    if (c < '0' || c > '9')
      return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string encode_instance_data(std::size_t used, int count) {
  return "{\"used\":" + std::to_string(used) + ",\"count\":" + std::to_string(count) + "}";
}

std::string encode_reload(std::int64_t times) {
  return "{\"times\":" + std::to_string(times) + "}";
}

namespace {
bool needs_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }
}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  // Ids almost never hold a character to escape: one copy instead of one append per byte
  // (rewriting an instance's 5,000 ids was a fifth of the daemon's CPU under a full stream).
  if (std::none_of(s.begin(), s.end(), [](char c) { return needs_escape(static_cast<unsigned char>(c)); })) {
    out.append(s.data(), s.size());
    out += '"';
    return;
  }
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

std::string encode_resources(const std::vector<std::string>& ids) {
  std::size_t size = 10;
  for (auto& id : ids)
    size += id.size() + 3;
  std::string out;
  out.reserve(size);
  out += "{\"ids\":[";
  bool first = true;
  for (auto& id : ids) {
    if (!first)
      out += ',';
    first = false;
    append_json_string(out, id);
  }
  out += "]}";
  return out;
}

namespace {

nlohmann::json parse_object(std::string_view bytes) {
  auto j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return nlohmann::json{};
  return j;
}

std::optional<std::int64_t> integer_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer())
    return std::nullopt;
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > INT64_MAX)
    return std::nullopt;
  return it->get<std::int64_t>();
}

}  // namespace

std::optional<instance_data> decode_instance_data(std::string_view bytes) {
  auto j = parse_object(bytes);
  auto used = integer_field(j, "used");
  auto count = integer_field(j, "count");
  if (!used || !count)
    return std::nullopt;
  return instance_data{*used, *count};
}

std::optional<std::int64_t> decode_reload(std::string_view bytes) {
  return integer_field(parse_object(bytes), "times");
}

std::optional<std::vector<std::string>> decode_resources(std::string_view bytes) {
  auto j = parse_object(bytes);
  auto it = j.find("ids");
  if (it == j.end() || !it->is_array())
    return std::nullopt;
  std::vector<std::string> out;
  out.reserve(it->size());
  for (auto& e : *it) {
    if (e.is_string())
      out.push_back(e.get<std::string>());
    else if (e.is_number_integer())
      out.push_back(e.dump());
    else
      return std::nullopt;
  }
  return out;
}

}  // namespace iota::model
