#pragma once
// The pods API's pure parts, as the Kubernetes driver speaks it: the API server URL, path
// encoding, a pod's phase and why it is in it, and the text of an error reply. No sockets:
// unit tested in tests/io/kubernetes_pods_api_test.cpp.
#include <initializer_list>
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "io/instance_driver.hpp"

namespace iota::io::kube {

// Percent-encodes everything but RFC 3986's unreserved characters (for names in paths).
std::string url_encode(std::string_view s);

struct parsed_url {
  bool tls = false;
  std::string host;       // without brackets
  std::string port;
  std::string host_header;
  std::string base_path;  // "" or "/prefix", no trailing slash
};

// http[s]://host[:port][/prefix]; nullopt with `error` naming what is wrong.
std::optional<parsed_url> parse_url(const std::string& url, std::string& error);

// status.phase; "" (just created) is pending, anything unknown is unknown.
pod_phase phase_of(const std::string& phase);

// The string (or integer, as decimal) at a path of object keys; "" when absent.
std::string string_at(const nlohmann::json& j, std::initializer_list<const char*> path);

// Why a pod is in its phase, from its status: "terminating", the pod's reason and message
// (e.g. "Evicted: ..."), the first container's termination ("exit code 3 (Error)") or wait
// reason ("CrashLoopBackOff"), joined by "; ".
std::string detail_of(const nlohmann::json& pod);

// "HTTP 409: pods \"x\" already exists" from a Status body (or the raw start of the body).
std::string http_detail(int status, const std::string& body);

// A core/v1 Event (type Warning, source iota-orchestrator) about pod `pod` of namespace `ns`,
// at `now_ms` (Unix ms), named `<pod>.<hex now>` as kubectl's own events are.
std::string render_pod_event(const std::string& ns, const std::string& pod, const std::string& reason,
                             const std::string& message, std::int64_t now_ms);

// A 404 about the object itself (a Status, reason NotFound), not about a path the server
// does not serve (a misconfigured url prefix answers "404 page not found" as text).
bool is_not_found(int status, const std::string& body);

}  // namespace iota::io::kube
