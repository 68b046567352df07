#include "config/settings.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include "config/validators.hpp"
#include "config/yaml_fields.hpp"
#include "model/duration.hpp"

namespace iota::config {

namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using namespace detail;  // config/validators.hpp, config/yaml_fields.hpp

// --- the loader ---------------------------------------------------------------------------

struct loader {
  settings s;
  std::string templates_source = "default";  // where templates_path came from
  std::string resources_source = "default";  // where the resources list came from
};

// A setting that a flag and an environment variable can also give.
struct override_def {
  const char* flag;
  const char* env;
  const char* key;
  const char* placeholder;
  const char* help;
  void (*apply)(loader&, const std::string& value, const std::string& key,
                const std::string& source);
};

const std::vector<override_def>& override_defs() {
  static const std::vector<override_def> defs{
      {"--zookeeper", "IOTA_ZOOKEEPER", "zookeeper", "HOST:PORT[,...]",
       "ZooKeeper ensemble (default localhost:2181)",
       [](loader& l, const std::string& v, const std::string& k, const std::string& src) {
         l.s.zookeeper = check_zookeeper(v, k, src);
       }},
      {"--mqtt-brokers", "IOTA_MQTT_BROKERS", "mqtt.brokers", "URL[,...]",
       "MQTT broker, mqtt:// or tcp:// (default mqtt://localhost:1883)",
       [](loader& l, const std::string& v, const std::string& k, const std::string& src) {
         l.s.mqtt.brokers = check_mqtt_brokers(v, k, src);
       }},
      {"--kafka-brokers", "IOTA_KAFKA_BROKERS", "kafka.brokers", "HOST:PORT[,...]",
       "Kafka bootstrap brokers (default localhost:9092)",
       [](loader& l, const std::string& v, const std::string& k, const std::string& src) {
         l.s.kafka.brokers = check_kafka_brokers(v, k, src);
       }},
      {"--http-listen", "IOTA_HTTP_LISTEN", "http.listen", "ADDR:PORT",
       "REST API and dashboard address (default 127.0.0.1:8080)",
       [](loader& l, const std::string& v, const std::string& k, const std::string& src) {
         l.s.http.listen = check_listen(v, k, src);
       }},
      {"--driver", "IOTA_DRIVER", "driver", "local|kubernetes",
       "how instances run: local processes or Kubernetes pods (default local)",
       [](loader& l, const std::string& v, const std::string& k, const std::string& src) {
         l.s.driver = check_driver(v, k, src);
       }},
      {"--templates", "IOTA_TEMPLATES", "templatesPath", "DIR",
       "pod templates, DIR/<instanceName>/pod-template.yml (default ./templates)",
       [](loader& l, const std::string& v, const std::string& k, const std::string& src) {
         l.s.templates_path = check_non_empty(v, k, src);
         l.templates_source = src;
       }},
      {"--log-level", "IOTA_LOG_LEVEL", "logLevel", "LEVEL",
       "trace, debug, info, warn or error (default info)",
       [](loader& l, const std::string& v, const std::string& k, const std::string& src) {
         l.s.log_level = check_log_level(v, k, src);
       }},
      {"--auth-token", "IOTA_AUTH_TOKEN", "kubernetes.token", "TOKEN", "Kubernetes bearer token",
       [](loader& l, const std::string& v, const std::string&, const std::string&) {
         l.s.kubernetes.token = v;
       }},
  };
  return defs;
}

constexpr const char* config_flag = "--config";
constexpr const char* config_env = "IOTA_CONFIG";

// One of initInstances / maxInstances / resourcePerInstance, with the seed's rule: out of
// range -> the default, with a warning naming the key.
int read_option(const YAML::Node& n, const std::string& key, const file_ctx& c,
                bool (*in_range)(std::int64_t), int fallback, const char* range,
                std::vector<std::string>& warnings) {
  if (!n.IsScalar()) fail(key, c.source, "expected an integer", render(n));
  const auto& s = n.Scalar();
  std::string_view digits = s;
  if (starts_with(digits, "+")) digits.remove_prefix(1);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  bool parsed_all = !digits.empty() && end == digits.data() + digits.size();
  if (!parsed_all || (ec != std::errc() && ec != std::errc::result_out_of_range))
    fail(key, c.source, "expected an integer", s);
  if (ec == std::errc() && in_range(v) && v <= std::numeric_limits<int>::max())
    return static_cast<int>(v);
  if (ec == std::errc() && v == fallback)
    return fallback;  // the default itself: nothing to warn about
  warnings.push_back(key + ": " + s + " is out of range (" + range + "), using " +
                     std::to_string(fallback));
  return fallback;
}

inventory_settings read_inventory(const YAML::Node& n, const std::string& key, const file_ctx& c) {
  inventory_settings inv;
  bool has_file = false, has_postgres = false, has_query = false;
  read_map(n, key, c,
           {
               {"file",
                [&](const YAML::Node& v, const std::string& k) {
                  inv.file = resolve_path(c.dir, check_non_empty(as_string(v, k, c), k, c.source));
                  has_file = true;
                }},
               {"postgres",
                [&](const YAML::Node& v, const std::string& k) {
                  inv.postgres = check_non_empty(as_string(v, k, c), k, c.source);
                  has_postgres = true;
                }},
               {"query",
                [&](const YAML::Node& v, const std::string& k) {
                  inv.query = check_non_empty(as_string(v, k, c), k, c.source);
                  has_query = true;
                }},
           });
  if (has_file == has_postgres)
    fail(key, c.source,
         std::string("expected exactly one of file or postgres, ") +
             (has_file ? "both given" : "neither given"),
         render(n));
  if (has_query && has_file)
    fail(key + ".query", c.source, "query applies to a postgres inventory only", inv.query);
  return inv;
}

std::string default_query(const std::string& resource) {
  return "SELECT id FROM \"" + resource + "\"";
}

resource_settings read_resource(const YAML::Node& n, const std::string& path, const file_ctx& c,
                                std::vector<std::string>& warnings) {
  resource_settings r;
  bool has_resource = false, has_instance_name = false, has_inventory = false;
  read_map(
      n, path, c,
      {
          {"resource",
           [&](const YAML::Node& v, const std::string& k) {
             r.resource = as_string(v, k, c);
             if (!valid_table_name(r.resource))
               fail(k, c.source, "expected a table name of letters, digits and '_'", r.resource);
             has_resource = true;
           }},
          {"instanceName",
           [&](const YAML::Node& v, const std::string& k) {
             r.instance_name = as_string(v, k, c);
             if (!valid_dns_label(r.instance_name, 50))
               fail(k, c.source,
                    "expected a lowercase DNS label of at most 50 characters "
                    "([a-z0-9]([-a-z0-9]*[a-z0-9])?)",
                    r.instance_name);
             has_instance_name = true;
           }},
          {"heart", [&](const YAML::Node& v, const std::string& k) { r.heart = as_bool(v, k, c); }},
          {"initInstances",
           [&](const YAML::Node& v, const std::string& k) {
             r.options.init_instances =
                 read_option(v, k, c, model::init_instances_in_range, model::default_init_instances,
                             "initInstances >= 1", warnings);
           }},
          {"maxInstances",
           [&](const YAML::Node& v, const std::string& k) {
             r.options.max_instances =
                 read_option(v, k, c, model::max_instances_in_range, model::default_max_instances,
                             "3 <= maxInstances < 100", warnings);
           }},
          {"resourcePerInstance",
           [&](const YAML::Node& v, const std::string& k) {
             r.options.resource_per_instance = read_option(
                 v, k, c, model::resource_per_instance_in_range,
                 model::default_resource_per_instance, "0 < resourcePerInstance < 5000", warnings);
           }},
          {"dependsOn",
           [&](const YAML::Node& v, const std::string& k) {
             auto tables = as_string_list(v, k, c);
             for (std::size_t i = 0; i < tables.size(); ++i) {
               if (!valid_table_name(tables[i]))
                 fail(k + "[" + std::to_string(i) + "]", c.source,
                      "expected a table name of letters, digits and '_'", tables[i]);
               if (std::find(r.depends_on.begin(), r.depends_on.end(), tables[i]) ==
                   r.depends_on.end())
                 r.depends_on.push_back(tables[i]);
             }
           }},
          {"inventory",
           [&](const YAML::Node& v, const std::string& k) {
             r.inventory = read_inventory(v, k, c);
             has_inventory = true;
           }},
      });
  if (!has_resource)
    fail(path + ".resource", c.source, "missing: every resource needs a resource (table) name",
         render(n));
  if (!has_instance_name)
    fail(path + ".instanceName", c.source, "missing: every resource needs an instanceName",
         r.resource);
  for (std::size_t i = 0; i < r.depends_on.size(); ++i)
    if (r.depends_on[i] == r.resource)
      fail(path + ".dependsOn", c.source, "a resource cannot depend on its own table", r.resource);
  if (!has_inventory)
    r.inventory.file = "./inventory/" + r.resource + ".txt";  // a default: relative to cwd
  if (!r.inventory.postgres.empty() && r.inventory.query.empty())
    r.inventory.query = default_query(r.resource);
  return r;
}

void read_resources(loader& l, const YAML::Node& n, const std::string& key, const file_ctx& c) {
  if (!n.IsSequence()) fail(key, c.source, "expected a list of resources", render(n));
  if (n.size() == 0) fail(key, c.source, "expected at least one resource", render(n));
  std::vector<resource_settings> list;
  for (std::size_t i = 0; i < n.size(); ++i) {
    auto path = key + "[" + std::to_string(i) + "]";
    auto r = read_resource(n[i], path, c, l.s.warnings);
    for (std::size_t j = 0; j < list.size(); ++j) {
      if (list[j].resource == r.resource)
        fail(path + ".resource", c.source,
             "duplicate resource (also resources[" + std::to_string(j) + "])", r.resource);
      if (list[j].instance_name == r.instance_name)
        fail(path + ".instanceName", c.source,
             "duplicate instanceName (also resources[" + std::to_string(j) + "])", r.instance_name);
    }
    list.push_back(std::move(r));
  }
  l.s.resources = std::move(list);
  l.resources_source = c.source;
}

// `zookeeper` is the ensemble, or a map of it (`hosts`) and its `sessionTimeout`.
void read_zookeeper(loader& l, const YAML::Node& v, const std::string& k, const file_ctx& c) {
  if (!v.IsMap()) {
    l.s.zookeeper = check_zookeeper(as_string(v, k, c), k, c.source);
    return;
  }
  read_map(v, k, c,
           {{"hosts",
             [&](const YAML::Node& h, const std::string& hk) {
               l.s.zookeeper = check_zookeeper(as_string(h, hk, c), hk, c.source);
             }},
            {"sessionTimeout", [&](const YAML::Node& t, const std::string& tk) {
               l.s.zookeeper_session_timeout = as_duration(t, tk, c, false);
             }}});
}

// --- the config file's schema: one flat table, dotted key -> how its value is read ---------

using key_reader = void (*)(loader&, const YAML::Node& value, const std::string& key, const file_ctx&);

struct file_key {
  const char* key;  // "mqtt.brokers"; the sections ("mqtt") follow from the dots
  key_reader read;
};

std::string text(const YAML::Node& v, const std::string& k, const file_ctx& c) { return as_string(v, k, c); }
std::string non_empty(const YAML::Node& v, const std::string& k, const file_ctx& c) {
  return check_non_empty(as_string(v, k, c), k, c.source);
}
std::string path_in(const YAML::Node& v, const std::string& k, const file_ctx& c) {
  return resolve_path(c.dir, non_empty(v, k, c));
}

#define IOTA_KEY(name, ...) \
  {name, [](loader& l, const YAML::Node& v, const std::string& k, const file_ctx& c) { \
     [[maybe_unused]] auto& s = l.s;                                                     \
     __VA_ARGS__;                                                                       \
   }}

const std::vector<file_key>& file_keys() {
  static const std::vector<file_key> keys{
      IOTA_KEY("zookeeper", read_zookeeper(l, v, k, c)),
      IOTA_KEY("mqtt.brokers", s.mqtt.brokers = check_mqtt_brokers(text(v, k, c), k, c.source)),
      IOTA_KEY("mqtt.topic", s.mqtt.topic = non_empty(v, k, c)),
      IOTA_KEY("mqtt.clientId", s.mqtt.client_id = non_empty(v, k, c)),
      IOTA_KEY("mqtt.reconnectPeriod", s.mqtt.reconnect_period = as_duration(v, k, c, false)),
      IOTA_KEY("mqtt.maxPayloadBytes", s.mqtt.max_payload_bytes = as_count(v, k, c, 1)),
      IOTA_KEY("mqtt.maxIdsPerNotify", s.mqtt.max_ids_per_notify = as_count(v, k, c, 1)),
      IOTA_KEY("mqtt.journalDir", s.mqtt.journal_dir = path_in(v, k, c)),
      IOTA_KEY("mqtt.journalSync", s.mqtt.journal_sync = as_bool(v, k, c)),
      IOTA_KEY("mqtt.window", s.mqtt.window = as_count(v, k, c, 1)),
      IOTA_KEY("kafka.brokers", s.kafka.brokers = check_kafka_brokers(text(v, k, c), k, c.source)),
      IOTA_KEY("kafka.topic", s.kafka.topic = non_empty(v, k, c)),
      IOTA_KEY("http.listen", s.http.listen = check_listen(text(v, k, c), k, c.source)),
      IOTA_KEY("http.corsOrigins", s.http.cors_origins = as_string_list(v, k, c)),
      IOTA_KEY("http.bodyLimit", s.http.body_limit = as_count(v, k, c, 1)),
      IOTA_KEY("http.requestTimeout", s.http.request_timeout = as_duration(v, k, c, false)),
      IOTA_KEY("http.tokensFile", s.http.tokens_file = path_in(v, k, c)),
      IOTA_KEY("http.protectReads", s.http.protect_reads = as_bool(v, k, c)),
      IOTA_KEY("http.allowUnauthenticated", s.http.allow_unauthenticated = as_bool(v, k, c)),
      IOTA_KEY("http.tls.cert", s.http.tls_cert = path_in(v, k, c)),
      IOTA_KEY("http.tls.key", s.http.tls_key = path_in(v, k, c)),
      IOTA_KEY("driver", s.driver = check_driver(text(v, k, c), k, c.source)),
      IOTA_KEY("kubernetes.url", s.kubernetes.url = check_url(text(v, k, c), k, c.source)),
      IOTA_KEY("kubernetes.namespace", s.kubernetes.namespace_name = check_namespace(text(v, k, c), k, c.source)),
      IOTA_KEY("kubernetes.insecureSkipTlsVerify", s.kubernetes.insecure_skip_tls_verify = as_bool(v, k, c)),
      IOTA_KEY("kubernetes.runInPod", s.kubernetes.run_in_pod = as_bool(v, k, c)),
      IOTA_KEY("kubernetes.token", s.kubernetes.token = text(v, k, c)),
      IOTA_KEY("templatesPath", s.templates_path = path_in(v, k, c); l.templates_source = c.source),
      IOTA_KEY("liveness.heartbeatPeriod", s.liveness.heartbeat_period = as_duration(v, k, c, false)),
      IOTA_KEY("liveness.podCheckPeriod", s.liveness.pod_check_period = as_duration(v, k, c, false)),
      IOTA_KEY("liveness.gracePeriod", s.liveness.grace_period = as_duration(v, k, c, true)),
      IOTA_KEY("liveness.maxBackoff", s.liveness.max_backoff = as_duration(v, k, c, false)),
      IOTA_KEY("liveness.firstBackoff", s.liveness.first_backoff = as_duration(v, k, c, false)),
      IOTA_KEY("liveness.maxOfflineFraction", s.liveness.max_offline_fraction = as_fraction(v, k, c)),
      IOTA_KEY("reconcileInterval", s.reconcile_interval = as_duration(v, k, c, false)),
      IOTA_KEY("history.eventsPerResource", s.history_events_per_resource = as_count(v, k, c, 1)),
      IOTA_KEY("localDriver.logDir", s.local_driver.log_dir = path_in(v, k, c)),
      IOTA_KEY("localDriver.binDir", s.local_driver.bin_dir = path_in(v, k, c)),
      IOTA_KEY("orchestrator.batchSize", s.orchestrator.batch_size = as_count(v, k, c, 1)),
      IOTA_KEY("orchestrator.maxMovesPerStep", s.orchestrator.max_moves_per_step = as_count(v, k, c, 0)),
      IOTA_KEY("orchestrator.maxQueuedEvents", s.orchestrator.max_queued_events = as_count(v, k, c, 1)),
      IOTA_KEY("logLevel", s.log_level = check_log_level(text(v, k, c), k, c.source)),
      IOTA_KEY("resources", read_resources(l, v, k, c)),
  };
  return keys;
}

#undef IOTA_KEY

// Reads the map at `section` ("" = the top level): each of its keys is either a key of the
// table or a section that some keys of the table lie under; anything else is refused.
void read_section(loader& l, const YAML::Node& node, const std::string& section, const file_ctx& c) {
  const std::string prefix = section.empty() ? "" : section + ".";
  std::vector<field> fields;
  for (const auto& def : file_keys()) {
    std::string key = def.key;
    if (key.compare(0, prefix.size(), prefix) != 0)
      continue;
    auto rest = key.substr(prefix.size());
    auto dot = rest.find('.');
    auto name = rest.substr(0, dot);
    if (std::any_of(fields.begin(), fields.end(), [&](const field& f) { return name == f.name; }))
      continue;
    if (dot == std::string::npos)
      fields.push_back({name, [&l, &c, read = def.read](const YAML::Node& v, const std::string& k) { read(l, v, k, c); }});
    else
      fields.push_back({name, [&l, &c](const YAML::Node& m, const std::string& k) { read_section(l, m, k, c); }});
  }
  read_map(node, section, c, fields);
}

std::string line_of(const std::string& text, int line) {
  std::istringstream in(text);
  std::string current;
  for (int i = 0; i <= line && std::getline(in, current); ++i) {
    if (i == line) return current;
  }
  return "";
}

void load_file(loader& l, const std::string& path, const std::string& path_source) {
  static const std::string key = "config file";
  l.s.config_file = path;
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(key, path_source, "cannot read: no such file", path);
  if (fs::is_directory(path, ec)) fail(key, path_source, "cannot read: is a directory", path);
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(key, path_source,
         std::string("cannot read: ") + (errno ? std::strerror(errno) : "open failed"), path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail(key, path_source, "cannot read: read error", path);
  const std::string text = buffer.str();

  file_ctx c{"file " + path, fs::path(path).parent_path()};
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail(key, c.source,
         "invalid YAML at line " + std::to_string(e.mark.line + 1) + ", column " +
             std::to_string(e.mark.column + 1) + ": " + e.msg,
         line_of(text, e.mark.line));
  }
  if (root.IsNull()) return;  // an empty file (or only comments): every setting keeps its default
  read_section(l, root, "", c);
}

bool is_loopback_listen(const std::string& listen) {
  auto host = listen.substr(0, listen.rfind(':'));
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "[::1]" || host == "::1";
}

// The checks that need every layer applied: the pod templates under the final templatesPath,
// and the HTTP listener's protection (SPEC 15: secure by default).
void finish(loader& l) {
  auto& http = l.s.http;
  if (!is_loopback_listen(http.listen) && http.tokens_file.empty() && !http.allow_unauthenticated)
    fail("http.listen", "settings",
         "not a loopback address, and http.tokensFile is not set: anyone who reaches the port could "
         "re-shard the platform. Set http.tokensFile (bearer tokens for writes), or "
         "http.allowUnauthenticated: true when the port is protected otherwise",
         http.listen);
  if (http.tls_cert.empty() != http.tls_key.empty())
    fail(http.tls_cert.empty() ? "http.tls.cert" : "http.tls.key", "settings",
         "HTTPS needs both http.tls.cert and http.tls.key", http.tls_cert.empty() ? http.tls_key : http.tls_cert);

  for (std::size_t i = 0; i < l.s.resources.size(); ++i) {
    auto& r = l.s.resources[i];
    r.template_file =
        (fs::path(l.s.templates_path) / r.instance_name / "pod-template.yml").string();
    std::error_code ec;
    bool ok = fs::is_regular_file(r.template_file, ec);
    if (ok) {
      std::ifstream probe(r.template_file);
      ok = static_cast<bool>(probe);
    }
    if (!ok)
      fail("resources[" + std::to_string(i) + "].instanceName", l.resources_source,
           "no readable pod template " + r.template_file + " (templatesPath \"" +
               l.s.templates_path + "\" from " + l.templates_source + ")",
           r.instance_name);
  }
}

struct parsed_flag {
  const override_def* def;  // nullptr for --config
  std::string value;
};

std::vector<parsed_flag> parse_flags(const std::vector<std::string>& args) {
  std::vector<parsed_flag> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!starts_with(arg, "--") || arg == "--")
      fail(arg, "command line", "unexpected argument (flags start with --, see --help)", arg);
    auto eq = arg.find('=');
    std::string name = arg.substr(0, eq);
    if (name == "--help" || name == "--version") fail(name, "command line", "takes no value", arg);
    const override_def* def = nullptr;
    std::string key = "config file";
    if (name != config_flag) {
      auto& defs = override_defs();
      auto it = std::find_if(defs.begin(), defs.end(),
                             [&](const override_def& d) { return name == d.flag; });
      if (it == defs.end()) fail(name, "command line", "unknown flag (see --help)", arg);
      def = &*it;
      key = def->key;
    }
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else {
      if (i + 1 >= args.size() || starts_with(args[i + 1], "--"))
        fail(key, "flag " + name, "missing value", i + 1 < args.size() ? args[i + 1] : "");
      value = args[++i];
    }
    out.push_back({def, std::move(value)});
  }
  return out;
}

std::optional<std::string> lookup(const env_lookup& env, const std::string& name) {
  if (!env) return std::nullopt;
  auto v = env(name);
  if (v && v->empty()) return std::nullopt;  // an empty variable counts as unset
  return v;
}

}  // namespace

env_lookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

std::vector<resource_settings> default_resources() {
  resource_settings thing;
  thing.resource = "Thing";
  thing.instance_name = "iota-dac";
  thing.heart = true;
  thing.depends_on = {"ProtocolMeta", "DeviceMeta"};
  thing.inventory.file = "./inventory/Thing.txt";

  resource_settings rule;
  rule.resource = "Rule";
  rule.instance_name = "iota-rules-engine";
  rule.heart = false;
  rule.inventory.file = "./inventory/Rule.txt";

  return {std::move(thing), std::move(rule)};
}

const resource_settings* settings::find_resource(const std::string& resource) const {
  for (const auto& r : resources)
    if (r.resource == resource) return &r;
  return nullptr;
}

load_result load_settings(const std::vector<std::string>& args, const env_lookup& env) {
  load_result result;
  for (const auto& arg : args) {
    if (arg == "--help" || arg == "-h")
      result.help = true;
    else if (arg == "--version")
      result.version = true;
  }
  if (result.help || result.version) return result;
  try {
    loader l;
    auto flags = parse_flags(args);

    // The config file: --config beats IOTA_CONFIG; none means defaults only.
    std::string file, file_source;
    if (auto v = lookup(env, config_env)) {
      file = *v;
      file_source = std::string("env ") + config_env;
    }
    for (const auto& f : flags) {
      if (f.def == nullptr) {
        if (f.value.empty())
          fail("config file", std::string("flag ") + config_flag, "missing value", f.value);
        file = f.value;
        file_source = std::string("flag ") + config_flag;
      }
    }
    if (!file.empty()) load_file(l, file, file_source);

    for (const auto& def : override_defs())
      if (auto v = lookup(env, def.env)) def.apply(l, *v, def.key, std::string("env ") + def.env);
    for (const auto& f : flags)
      if (f.def != nullptr)
        f.def->apply(l, f.value, f.def->key, std::string("flag ") + f.def->flag);

    finish(l);
    result.value = std::move(l.s);
  } catch (const config_error& e) {
    result.error = e.message;
  } catch (const std::exception& e) {
    result.error = "config: unexpected error: " + one_line(e.what());
  } catch (...) {
    result.error = "config: unexpected error";
  }
  return result;
}

std::string usage() {
  std::ostringstream out;
  out << "Usage: iota-orchestrator [--config FILE] [flags]\n"
         "\n"
         "Shards IoT resources over worker instances; the shards live in ZooKeeper.\n"
         "Each setting comes from its flag, else its environment variable, else the config\n"
         "file, else the default. Flags take \"--flag value\" or \"--flag=value\".\n"
         "\n"
         "Flags:\n";
  auto line = [&](const std::string& flag, const std::string& help, const std::string& env) {
    std::string head = "  " + flag;
    out << head;
    if (head.size() < 34)
      out << std::string(34 - head.size(), ' ');
    else
      out << "\n" << std::string(34, ' ');
    out << help << "\n";
    if (!env.empty()) out << std::string(34, ' ') << "env " << env << "\n";
  };
  line(std::string(config_flag) + " FILE", "YAML config file (default: none)", config_env);
  for (const auto& d : override_defs())
    line(std::string(d.flag) + " " + d.placeholder, d.help, d.env);
  line("--help, -h", "print this help and exit", "");
  line("--version", "print the version and exit", "");
  out << "\n"
         "Durations are written 500ms, 90s, 10m or 1h. Every config file key, with its default,\n"
         "is listed in config/default.yml. A configuration error exits with status 2.\n";
  return out.str();
}

}  // namespace iota::config
