// In-cluster configuration: the API server from the service environment, the token, CA and
// namespace from the mounted service account.
#include <cstdlib>
#include <fstream>
#include <vector>

#include "io/files.hpp"
#include "io/kubernetes_driver.hpp"
#include "model/text.hpp"

namespace iota::io {

kubernetes_settings in_cluster(kubernetes_settings base, const in_cluster_source& source,
                               std::string* error) {
  if (!base.run_in_pod) return base;
  std::vector<std::string> problems;
  auto env = [&](const std::string& name) -> std::optional<std::string> {
    if (source.env) return source.env(name);
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
  auto host = env("KUBERNETES_SERVICE_HOST");
  auto port = env("KUBERNETES_SERVICE_PORT");
  if (host && !host->empty()) {
    std::string h = *host;
    if (h.find(':') != std::string::npos && h.front() != '[') h = "[" + h + "]";  // IPv6
    base.url = "https://" + h + ":" + (port && !port->empty() ? *port : std::string("443"));
  } else {
    problems.push_back("KUBERNETES_SERVICE_HOST is not set");
  }
  const std::string dir = source.service_account_dir;
  if (auto token = read_file(dir + "/token")) {
    base.token = std::string(model::trim(*token));
    base.token_file = dir + "/token";
  } else {
    problems.push_back("cannot read " + dir + "/token");
  }
  std::ifstream ca(dir + "/ca.crt");
  if (ca) base.ca_file = dir + "/ca.crt";
  if (auto ns = read_file(dir + "/namespace")) {
    auto name = std::string(model::trim(*ns));
    if (!name.empty()) base.namespace_name = name;
  }
  if (error != nullptr) {
    error->clear();
    for (const auto& p : problems) {
      *error += error->empty() ? "in-cluster: " : "; ";
      *error += p;
    }
  }
  return base;
}

}  // namespace iota::io
