#pragma once
// Pod templates (shared/SPEC.md section 6): `templates/<instanceName>/pod-template.yml`,
// turned into one pod per instance for the Kubernetes driver, or into a process for the
// local-process driver.
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace iota::model {

// What the local-process driver starts: command + args of container 0, and its env in order.
struct process_spec {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
};

// An immutable, validated template. It keeps only the YAML text and re-parses it for every
// render: the original shallow-copied its template (`Object.assign({}, pod)`), so every pod
// shared, and overwrote, the same nested metadata; re-parsing makes each render independent
// and keeps the object safe to share between threads (yaml-cpp nodes are not, even to read).
class pod_template {
 public:
  // Validates that metadata, metadata.labels, spec, spec.containers[0] and
  // spec.containers[0].env[0] exist with the right kinds (maps / non-empty sequences).
  // Errors name the origin and the path, e.g.
  // "pod template iota-dac/pod-template.yml: missing spec.containers[0].env[0]".
  static std::variant<pod_template, std::string> parse(std::string_view yaml_text,
                                                       std::string_view origin);

  // The per-instance fields of SPEC section 6: metadata.name = "<instance_name>-<id>",
  // metadata.labels.instanceId = "<id>", spec.containers[0].env[0].value = "<id>".
  // The id fields are written quoted so they stay strings for any YAML reader.
  std::string render_yaml(std::string_view instance_name, int instance_id) const;

  // The Kubernetes POST body: the rendered pod as JSON (keys in template order). Plain
  // scalars resolve by the YAML 1.2 core schema (ints, floats, true/false, null); quoted
  // scalars and `!!str` stay strings; so do the instanceId label and the env[0] value.
  std::string render_json(std::string_view instance_name, int instance_id) const;

  // For the local-process driver: argv = command + args of container 0 (empty when the
  // template has neither), env of container 0 with env[0].value = "<id>". Entries that
  // take their value from elsewhere (`valueFrom`) cannot be resolved off-cluster and are
  // left out.
  process_spec process(int instance_id) const;

  const std::string& origin() const { return origin_; }
  const std::string& source() const { return text_; }

 private:
  pod_template(std::string text, std::string origin)
      : text_(std::move(text)), origin_(std::move(origin)) {}

  std::string text_;
  std::string origin_;
};

}  // namespace iota::model
