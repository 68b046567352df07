#include "model/options.hpp"

#include <nlohmann/json.hpp>

#include "model/text.hpp"

namespace iota::model {

namespace {

struct option_rule {
  const char* key;
  const char* range;
  int fallback;
  bool (*in_range)(std::int64_t);
};

const option_rule init_rule{"initInstances", "initInstances >= 1", default_init_instances,
                            init_instances_in_range};
const option_rule max_rule{"maxInstances", "3 <= maxInstances < 100", default_max_instances,
                           max_instances_in_range};
// A request may not ask for an absurd fleet: the seed's arithmetic lets initInstances exceed
// maxInstances, so the request bound is what keeps one POST from asking for a million pods.
const option_rule request_init_rule{"initInstances", "1 <= initInstances <= 1000",
                                    default_init_instances,
                                    [](std::int64_t v) { return 1 <= v && v <= 1000; }};
const option_rule rpi_rule{"resourcePerInstance", "0 < resourcePerInstance < 5000",
                           default_resource_per_instance, resource_per_instance_in_range};

int normalize_one(const option_rule& rule, std::optional<std::int64_t> raw,
                  std::vector<std::string>& warnings) {
  if (!raw)
    return rule.fallback;
  if (rule.in_range(*raw))
    return static_cast<int>(*raw);
  // The seed keeps the default values themselves without complaint (100 and 5000 are
  // outside the "valid" ranges only because they are what out-of-range falls back to).
  if (*raw != rule.fallback)
    warnings.push_back(std::string{rule.key} + ": " + std::to_string(*raw) +
                       " is out of range (" + rule.range + "), using " +
                       std::to_string(rule.fallback));
  return rule.fallback;
}

// An orchestrate body option: present means it must be a valid integer in range.
std::optional<std::string> read_request_option(const nlohmann::json& body, const option_rule& rule,
                                               int& target) {
  auto it = body.find(rule.key);
  if (it == body.end())
    return std::nullopt;
  auto refuse = [&] {
    return std::string{rule.key} + " must be an integer with " + rule.range + ", got " +
           it->dump();
  };
  if (!it->is_number_integer())
    return refuse();
  std::int64_t v = 0;
  if (it->is_number_unsigned()) {
    auto u = it->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT32_MAX))
      return refuse();
    v = static_cast<std::int64_t>(u);
  } else {
    v = it->get<std::int64_t>();
  }
  if (!rule.in_range(v) || v > INT32_MAX)
    return refuse();
  target = static_cast<int>(v);
  return std::nullopt;
}

}  // namespace

normalized_options normalize_options(std::optional<std::int64_t> raw_init_instances,
                                     std::optional<std::int64_t> raw_max_instances,
                                     std::optional<std::int64_t> raw_resource_per_instance) {
  normalized_options out;
  out.options.init_instances = normalize_one(init_rule, raw_init_instances, out.warnings);
  out.options.max_instances = normalize_one(max_rule, raw_max_instances, out.warnings);
  out.options.resource_per_instance =
    normalize_one(rpi_rule, raw_resource_per_instance, out.warnings);
  return out;
}

std::variant<orchestrate_request, std::string>
parse_orchestrate_request(const nlohmann::json& body, const resource_options& configured) {
  orchestrate_request req;
  req.options = configured;
  if (body.is_null())
    return req;  // no body: the configured options, as the web dashboard's button sends
  if (!body.is_object())
    return std::string{"the request body must be a JSON object, got "} + body.type_name();
  for (auto& [key, value] : body.items()) {
    if (key == "maxInstances" || key == "resourcePerInstance" || key == "initInstances")
      continue;
    if (key == "dryRun") {
      if (!value.is_boolean())
        return std::string{"dryRun must be a boolean, got "} + value.dump();
      req.dry_run = value.get<bool>();
      continue;
    }
    return "unknown option " + model::quoted(key) +
           " (known: maxInstances, resourcePerInstance, initInstances, dryRun)";
  }
  for (auto [rule, target] : {std::pair{&max_rule, &req.options.max_instances},
                              std::pair{&rpi_rule, &req.options.resource_per_instance},
                              std::pair{&request_init_rule, &req.options.init_instances}})
    if (auto err = read_request_option(body, *rule, *target))
      return *err;
  return req;
}

std::variant<instance_plan, std::string> plan_instances(std::size_t count,
                                                        const resource_options& options) {
  // Mirrors makeOrchestration() of the original, step by step.
  if (options.resource_per_instance <= 0 || options.init_instances <= 0)
    return std::string{"resourcePerInstance and initInstances must be positive"};
  const auto rpi = static_cast<std::size_t>(options.resource_per_instance);
  std::size_t instances = count / rpi + 1;
  if (instances > static_cast<std::size_t>(options.max_instances))
    return "require instances more than the max: " + std::to_string(instances) + "/" +
           std::to_string(options.max_instances);
  std::size_t capacity = rpi;
  if (instances < static_cast<std::size_t>(options.init_instances)) {
    instances = static_cast<std::size_t>(options.init_instances);
    capacity = count / instances + 1;
  }
  return instance_plan{static_cast<int>(instances), static_cast<int>(capacity)};
}

}  // namespace iota::model
