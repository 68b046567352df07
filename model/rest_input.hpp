#pragma once
// The pure parts of the REST API's request handling (shared/SPEC.md section 7): splitting a
// request path and validating an orchestrate request (Content-Type, JSON body, `dryRun`
// query parameter). actors/http_api.cpp routes with these; tests/fuzz drives them with raw
// HTTP bytes. No CAF, no I/O; never throws.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "model/options.hpp"

namespace iota::model {

// "/v1/api/x/" -> {"v1","api","x"}: the non-empty segments of an already decoded path.
std::vector<std::string> split_path(std::string_view path);

// A request refused before it reaches an actor: the HTTP status and the error text.
struct http_refusal {
  int status = 400;
  std::string message;
};

// Bodies nested deeper than this are refused as malformed (no request needs more than 2).
inline constexpr std::size_t max_request_json_depth = 64;

// POST .../orchestrate: `content_type` is the request's Content-Type ("" when absent), `body`
// the raw body ("" = none: the configured options), `dry_run_param` the `dryRun` query
// parameter when given ("true"/"1"/"false"/"0"). 415 for a non-JSON Content-Type with a body,
// 400 for malformed or too deeply nested JSON, an invalid option or a bad `dryRun`.
std::variant<orchestrate_request, http_refusal>
parse_orchestrate_http(std::string_view content_type, std::string_view body,
                       const std::optional<std::string>& dry_run_param,
                       const resource_options& configured);

}  // namespace iota::model
