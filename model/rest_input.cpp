#include "model/rest_input.hpp"

#include "model/json_depth.hpp"

#include <nlohmann/json.hpp>

namespace iota::model {

namespace {

using json = nlohmann::json;

}  // namespace

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < path.size()) {
    auto next = path.find('/', pos);
    if (next == std::string_view::npos)
      next = path.size();
    if (next > pos)
      out.emplace_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

std::variant<orchestrate_request, http_refusal>
parse_orchestrate_http(std::string_view content_type, std::string_view body,
                       const std::optional<std::string>& dry_run_param,
                       const resource_options& configured) {
  if (!body.empty() && !content_type.empty() &&
      content_type.find("application/json") == std::string_view::npos)
    return http_refusal{415, "Content-Type must be application/json, got " + std::string(content_type)};
  json parsed;  // null: no body, the configured options
  if (!body.empty()) {
    // A raw NUL is never valid JSON, but nlohmann would stop reading at it.
    if (body.find('\0') != std::string_view::npos || !json_nesting_within(body, max_request_json_depth))
      return http_refusal{400, "malformed JSON in the request body"};
    parsed = json::parse(body.begin(), body.end(), nullptr, false);
    if (parsed.is_discarded())
      return http_refusal{400, "malformed JSON in the request body"};
  }
  std::variant<orchestrate_request, std::string> checked;
  try {
    checked = parse_orchestrate_request(parsed, configured);
  } catch (const json::exception& e) {  // not expected: types are checked before each access
    return http_refusal{400, std::string("invalid request body: ") + e.what()};
  }
  if (auto* err = std::get_if<std::string>(&checked))
    return http_refusal{400, std::move(*err)};
  auto request = std::get<orchestrate_request>(checked);
  if (dry_run_param) {
    const auto& v = *dry_run_param;
    if (v == "true" || v == "1")
      request.dry_run = true;
    else if (v != "false" && v != "0")
      return http_refusal{400, "dryRun must be true or false, got \"" + v + "\""};
  }
  return request;
}

}  // namespace iota::model
