#include "io/kubernetes_pods_api.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <vector>

#include "model/decision_history.hpp"

namespace iota::io::kube {

using json = nlohmann::json;

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 15]);
    }
  }
  return out;
}


std::optional<parsed_url> parse_url(const std::string& url, std::string& error) {
  parsed_url out;
  std::string rest;
  auto lower_prefix = [&](std::string_view scheme) {
    if (url.size() < scheme.size()) return false;
    for (std::size_t i = 0; i < scheme.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(url[i])) != scheme[i]) return false;
    }
    return true;
  };
  if (lower_prefix("https://")) {
    out.tls = true;
    rest = url.substr(8);
  } else if (lower_prefix("http://")) {
    rest = url.substr(7);
  } else {
    error = "kubernetes url must start with http:// or https://: \"" + url + "\"";
    return std::nullopt;
  }
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) out.base_path = rest.substr(slash);
  while (!out.base_path.empty() && out.base_path.back() == '/') out.base_path.pop_back();
  if (out.base_path.find_first_of("?#") != std::string::npos || authority.find('@') != std::string::npos) {
    error = "kubernetes url has a query, fragment or user info: \"" + url + "\"";
    return std::nullopt;
  }
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) {
      error = "kubernetes url has an unterminated [IPv6] host: \"" + url + "\"";
      return std::nullopt;
    }
    out.host = authority.substr(1, close - 1);
    std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "kubernetes url: bad authority \"" + authority + "\"";
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else {
    auto colon = authority.find(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) {
    error = "kubernetes url has no host: \"" + url + "\"";
    return std::nullopt;
  }
  if (port.empty()) {
    out.port = out.tls ? "443" : "80";
  } else {
    bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) {
                    return std::isdigit(static_cast<unsigned char>(c));
                  });
    long value = digits ? std::stol(port) : 0;
    if (!digits || value < 1 || value > 65535) {
      error = "kubernetes url has a bad port: \"" + url + "\"";
      return std::nullopt;
    }
    out.port = port;
  }
  out.host_header = out.host.find(':') != std::string::npos ? "[" + out.host + "]" : out.host;
  if (!port.empty()) out.host_header += ":" + out.port;
  return out;
}

pod_phase phase_of(const std::string& phase) {
  if (phase.empty() || phase == "Pending") return pod_phase::pending;  // just created
  if (phase == "Running") return pod_phase::running;
  if (phase == "Succeeded") return pod_phase::succeeded;
  if (phase == "Failed") return pod_phase::failed;
  return pod_phase::unknown;
}

std::string string_at(const json& j, std::initializer_list<const char*> path) {
  const json* node = &j;
  for (const char* key : path) {
    if (!node->is_object()) return {};
    auto it = node->find(key);
    if (it == node->end()) return {};
    node = &*it;
  }
  if (node->is_string()) return node->get<std::string>();
  if (node->is_number_integer()) return std::to_string(node->get<long long>());
  return {};
}

std::string detail_of(const json& pod) {
  std::vector<std::string> parts;
  if (!string_at(pod, {"metadata", "deletionTimestamp"}).empty()) parts.emplace_back("terminating");
  std::string reason = string_at(pod, {"status", "reason"});
  std::string message = string_at(pod, {"status", "message"});
  if (!reason.empty() || !message.empty()) {
    parts.push_back(reason.empty() ? message : message.empty() ? reason : reason + ": " + message);
  }
  const json* statuses = nullptr;
  if (pod.contains("status") && pod["status"].is_object()) {
    auto it = pod["status"].find("containerStatuses");
    if (it != pod["status"].end() && it->is_array() && !it->empty()) statuses = &*it;
  }
  if (statuses != nullptr) {
    const json& first = (*statuses)[0];
    if (first.contains("state") && first["state"].is_object()) {
      const json& state = first["state"];
      if (state.contains("terminated")) {
        std::string code = string_at(state, {"terminated", "exitCode"});
        std::string why = string_at(state, {"terminated", "reason"});
        std::string text = "exit code " + (code.empty() ? std::string("?") : code);
        if (!why.empty()) text += " (" + why + ")";
        parts.push_back(text);
      } else if (state.contains("waiting")) {
        std::string why = string_at(state, {"waiting", "reason"});
        if (!why.empty()) parts.push_back(why);
      }
    }
  }
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += "; ";
    out += p;
  }
  return out;
}

std::string http_detail(int status, const std::string& body) {
  std::string text = "HTTP " + std::to_string(status);
  auto parsed = json::parse(body, nullptr, false);
  std::string message;
  if (parsed.is_object()) {
    message = string_at(parsed, {"message"});
    if (message.empty()) message = string_at(parsed, {"reason"});
  } else if (!body.empty()) {
    message = body.substr(0, 200);
  }
  if (!message.empty()) text += ": " + message;
  return text;
}

bool is_not_found(int status, const std::string& body) {
  if (status != 404) return false;
  auto parsed = json::parse(body, nullptr, false);
  return parsed.is_object() && parsed.value("kind", "") == "Status" &&
         (parsed.value("reason", "") == "NotFound" || parsed.value("code", 0) == 404);
}

std::string render_pod_event(const std::string& ns, const std::string& pod, const std::string& reason,
                             const std::string& message, std::int64_t now_ms) {
  auto stamp = model::iso8601_ms(now_ms);  // RFC 3339; the API server parses the fraction
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%llx", static_cast<unsigned long long>(now_ms) * 1000000ull);
  json e = {
    {"apiVersion", "v1"},
    {"kind", "Event"},
    {"metadata", {{"name", pod + suffix}, {"namespace", ns}}},
    {"involvedObject", {{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", pod}, {"namespace", ns}}},
    {"reason", reason},
    {"message", message},
    {"type", "Warning"},
    {"source", {{"component", "iota-orchestrator"}}},
    {"reportingComponent", "iota-orchestrator"},
    {"firstTimestamp", stamp},
    {"lastTimestamp", stamp},
    {"count", 1},
  };
  return e.dump();
}

}  // namespace iota::io::kube
