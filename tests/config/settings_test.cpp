#include "config/settings.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using iota::config::load_result;
using iota::config::load_settings;
using iota::config::settings;
using namespace std::chrono_literals;

namespace {

// A fresh directory under the system temp dir, removed with everything in it.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "iota-config-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const fs::path& path() const { return path_; }
  std::string str(const std::string& rel = "") const {
    return rel.empty() ? path_.string() : (path_ / rel).string();
  }

 private:
  fs::path path_;
};

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// <dir>/<name>/pod-template.yml for each instance name.
void make_templates(const fs::path& dir,
                    const std::vector<std::string>& names = {"iota-dac", "iota-rules-engine"}) {
  for (const auto& name : names)
    write_file(dir / name / "pod-template.yml", "apiVersion: v1\nkind: Pod\n");
}

iota::config::env_lookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// Switches the working directory for one test and back.
class cwd_guard {
 public:
  explicit cwd_guard(const fs::path& to) : old_(fs::current_path()) { fs::current_path(to); }
  ~cwd_guard() {
    std::error_code ec;
    fs::current_path(old_, ec);
  }
  cwd_guard(const cwd_guard&) = delete;
  cwd_guard& operator=(const cwd_guard&) = delete;

 private:
  fs::path old_;
};

// A temp dir holding templates/ for the default resources and a config file to fill in.
struct fixture {
  temp_dir dir;
  std::string templates = dir.str("templates");
  std::string config = dir.str("conf.yml");
  fixture() { make_templates(templates); }

  load_result load_yaml(const std::string& yaml, std::vector<std::string> extra_args = {},
                        std::map<std::string, std::string> env = {}) const {
    write_file(config, yaml);
    std::vector<std::string> args{"--config", config, "--templates", templates};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    return load_settings(args, fake_env(std::move(env)));
  }
};

void check_default_values(const settings& s) {
  CHECK(s.history_events_per_resource == 10000);
  CHECK(s.zookeeper == "localhost:2181");
  CHECK(s.zookeeper_session_timeout == 6s);
  CHECK(s.mqtt.brokers == "mqtt://localhost:1883");
  CHECK(s.mqtt.topic == "cm/notify");
  CHECK(s.mqtt.client_id == "iota-orchestrator");
  CHECK(s.mqtt.reconnect_period == 10s);
  CHECK(s.mqtt.max_payload_bytes == 1048576);
  CHECK(s.mqtt.max_ids_per_notify == 20000);
  CHECK(s.kafka.brokers == "localhost:9092");
  CHECK(s.kafka.topic == "HeartBeat");
  CHECK(s.http.listen == "127.0.0.1:8080");
  CHECK(s.http.cors_origins.empty());
  CHECK(s.http.body_limit == 65536);
  CHECK(s.http.request_timeout == 10s);
  CHECK(s.driver == "local");
  CHECK(s.kubernetes.url == "https://kubernetes.default.svc");
  CHECK(s.kubernetes.namespace_name == "iota");
  CHECK(s.kubernetes.insecure_skip_tls_verify);
  CHECK_FALSE(s.kubernetes.run_in_pod);
  CHECK(s.kubernetes.token.empty());
  CHECK(s.liveness.heartbeat_period == 90s);
  CHECK(s.liveness.pod_check_period == 60s);
  CHECK(s.liveness.grace_period == 90s);
  CHECK(s.liveness.max_backoff == 10min);
  CHECK(s.liveness.max_offline_fraction == 0.5);
  CHECK(s.reconcile_interval == 10min);
  CHECK(s.orchestrator.batch_size == 1000000);
  CHECK(s.orchestrator.max_moves_per_step == 0);
  CHECK(s.orchestrator.max_queued_events == 1000000);
  CHECK(s.log_level == "info");
  CHECK(s.warnings.empty());

  REQUIRE(s.resources.size() == 2);
  const auto& thing = s.resources[0];
  CHECK(thing.resource == "Thing");
  CHECK(thing.instance_name == "iota-dac");
  CHECK(thing.heart);
  CHECK(thing.options.init_instances == 10);
  CHECK(thing.options.max_instances == 100);
  CHECK(thing.options.resource_per_instance == 5000);
  CHECK(thing.depends_on == std::vector<std::string>{"ProtocolMeta", "DeviceMeta"});
  CHECK(thing.inventory.postgres.empty());
  const auto& rule = s.resources[1];
  CHECK(rule.resource == "Rule");
  CHECK(rule.instance_name == "iota-rules-engine");
  CHECK_FALSE(rule.heart);
  CHECK(rule.options.init_instances == 10);
  CHECK(rule.options.max_instances == 100);
  CHECK(rule.options.resource_per_instance == 5000);
  CHECK(rule.depends_on.empty());
  CHECK(rule.inventory.postgres.empty());
}

// The error is one line, in the documented shape, naming all of `parts`.
void check_error(const load_result& r, const std::vector<std::string>& parts) {
  INFO("error: " << r.error);
  CHECK_FALSE(r.value.has_value());
  REQUIRE_FALSE(r.error.empty());
  CHECK(r.error.rfind("config: ", 0) == 0);
  CHECK(r.error.find('\n') == std::string::npos);
  for (const auto& part : parts) {
    INFO("expected part: " << part);
    CHECK(r.error.find(part) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("defaults apply when there is no config file", "[config]") {
  temp_dir dir;
  make_templates(dir.path() / "templates");

  SECTION("templates given by flag") {
    auto r = load_settings({"--templates", dir.str("templates")}, fake_env({}));
    INFO(r.error);
    REQUIRE(r.value);
    CHECK_FALSE(r.help);
    CHECK_FALSE(r.version);
    const auto& s = *r.value;
    check_default_values(s);
    CHECK(s.config_file.empty());
    CHECK(s.templates_path == dir.str("templates"));
    CHECK(s.resources[0].template_file ==
          (dir.path() / "templates" / "iota-dac" / "pod-template.yml").string());
    CHECK(s.resources[1].template_file ==
          (dir.path() / "templates" / "iota-rules-engine" / "pod-template.yml").string());
    CHECK(s.resources[0].inventory.file == "./inventory/Thing.txt");
    CHECK(s.resources[1].inventory.file == "./inventory/Rule.txt");
  }

  SECTION("the default ./templates is relative to the current directory") {
    cwd_guard cwd(dir.path());
    auto r = load_settings({}, fake_env({}));
    INFO(r.error);
    REQUIRE(r.value);
    check_default_values(*r.value);
    CHECK(r.value->templates_path == "./templates");
    CHECK(r.value->resources[0].template_file == "./templates/iota-dac/pod-template.yml");
  }

  SECTION("a default-constructed settings holds the same defaults (templates unresolved)") {
    settings s;
    check_default_values(s);
    CHECK(s.templates_path == "./templates");
    CHECK(s.resources[0].template_file.empty());
    CHECK(s.find_resource("Thing") == &s.resources[0]);
    CHECK(s.find_resource("Rule") == &s.resources[1]);
    CHECK(s.find_resource("Nope") == nullptr);
  }
}

TEST_CASE("a flag beats its env var, which beats the file, which beats the default", "[config]") {
  fixture fx;
  struct row {
    std::string yaml;  // sets the key in the file
    std::string flag;
    std::string env;
    std::string file_value, env_value, flag_value, default_value;
    std::function<std::string(const settings&)> get;
  };
  const std::vector<row> rows{
      {"zookeeper: \"file-zk:2181\"", "--zookeeper", "IOTA_ZOOKEEPER", "file-zk:2181",
       "env-zk:2181", "flag-zk:2181,flag-zk2:2182", "localhost:2181",
       [](const settings& s) { return s.zookeeper; }},
      {"mqtt: { brokers: \"mqtt://file:1883\" }", "--mqtt-brokers", "IOTA_MQTT_BROKERS",
       "mqtt://file:1883", "tcp://env:1884", "mqtt://flag:1885,tcp://flag2",
       "mqtt://localhost:1883", [](const settings& s) { return s.mqtt.brokers; }},
      {"kafka: { brokers: \"file:9092\" }", "--kafka-brokers", "IOTA_KAFKA_BROKERS", "file:9092",
       "env:9093", "flag:9094", "localhost:9092",
       [](const settings& s) { return s.kafka.brokers; }},
      {"http: { listen: \"0.0.0.0:1111\", allowUnauthenticated: true }", "--http-listen", "IOTA_HTTP_LISTEN", "0.0.0.0:1111",
       "127.0.0.1:2222", "[::1]:3333", "127.0.0.1:8080",
       [](const settings& s) { return s.http.listen; }},
      {"driver: kubernetes", "--driver", "IOTA_DRIVER", "kubernetes", "local", "kubernetes",
       "local", [](const settings& s) { return s.driver; }},
      {"logLevel: debug", "--log-level", "IOTA_LOG_LEVEL", "debug", "warn", "trace", "info",
       [](const settings& s) { return s.log_level; }},
      {"kubernetes: { token: file-token }", "--auth-token", "IOTA_AUTH_TOKEN", "file-token",
       "env-token", "flag-token", "", [](const settings& s) { return s.kubernetes.token; }},
  };
  for (const auto& row : rows) {
    INFO("flag " << row.flag);
    // The fixture passes --templates; keep the other layers on top of that.
    SECTION("default " + row.flag) {
      auto r = fx.load_yaml("{}\n");
      REQUIRE(r.value);
      CHECK(row.get(*r.value) == row.default_value);
    }
    SECTION("file " + row.flag) {
      auto r = fx.load_yaml(row.yaml + "\n");
      INFO(r.error);
      REQUIRE(r.value);
      CHECK(row.get(*r.value) == row.file_value);
    }
    SECTION("env beats file " + row.flag) {
      auto r = fx.load_yaml(row.yaml + "\n", {}, {{row.env, row.env_value}});
      INFO(r.error);
      REQUIRE(r.value);
      CHECK(row.get(*r.value) == row.env_value);
    }
    SECTION("flag beats env " + row.flag) {
      auto r =
          fx.load_yaml(row.yaml + "\n", {row.flag, row.flag_value}, {{row.env, row.env_value}});
      INFO(r.error);
      REQUIRE(r.value);
      CHECK(row.get(*r.value) == row.flag_value);
    }
    SECTION("--flag=value form " + row.flag) {
      auto r = fx.load_yaml(row.yaml + "\n", {row.flag + "=" + row.flag_value},
                            {{row.env, row.env_value}});
      INFO(r.error);
      REQUIRE(r.value);
      CHECK(row.get(*r.value) == row.flag_value);
    }
    SECTION("an empty env var counts as unset " + row.flag) {
      auto r = fx.load_yaml(row.yaml + "\n", {}, {{row.env, ""}});
      INFO(r.error);
      REQUIRE(r.value);
      CHECK(row.get(*r.value) == row.file_value);
    }
  }
}

TEST_CASE("templates path precedence and config file selection", "[config]") {
  temp_dir dir;
  for (const auto* name : {"file-tpl", "env-tpl", "flag-tpl"}) make_templates(dir.path() / name);
  const auto config = dir.str("conf.yml");
  write_file(config, "templatesPath: " + dir.str("file-tpl") + "\nzookeeper: \"a:1\"\n");
  const auto other = dir.str("other.yml");
  write_file(other, "templatesPath: " + dir.str("file-tpl") + "\nzookeeper: \"b:2\"\n");

  SECTION("file") {
    auto r = load_settings({"--config", config}, fake_env({}));
    INFO(r.error);
    REQUIRE(r.value);
    CHECK(r.value->templates_path == dir.str("file-tpl"));
    CHECK(r.value->config_file == config);
  }
  SECTION("env beats file") {
    auto r =
        load_settings({"--config", config}, fake_env({{"IOTA_TEMPLATES", dir.str("env-tpl")}}));
    REQUIRE(r.value);
    CHECK(r.value->templates_path == dir.str("env-tpl"));
    CHECK(r.value->resources[0].template_file ==
          (dir.path() / "env-tpl" / "iota-dac" / "pod-template.yml").string());
  }
  SECTION("flag beats env") {
    auto r = load_settings({"--config", config, "--templates=" + dir.str("flag-tpl")},
                           fake_env({{"IOTA_TEMPLATES", dir.str("env-tpl")}}));
    REQUIRE(r.value);
    CHECK(r.value->templates_path == dir.str("flag-tpl"));
  }
  SECTION("IOTA_CONFIG names the file") {
    auto r = load_settings({}, fake_env({{"IOTA_CONFIG", config}}));
    INFO(r.error);
    REQUIRE(r.value);
    CHECK(r.value->config_file == config);
    CHECK(r.value->zookeeper == "a:1");
  }
  SECTION("--config beats IOTA_CONFIG") {
    auto r = load_settings({"--config=" + other}, fake_env({{"IOTA_CONFIG", config}}));
    INFO(r.error);
    REQUIRE(r.value);
    CHECK(r.value->config_file == other);
    CHECK(r.value->zookeeper == "b:2");
  }
  SECTION("a repeated flag: the last one wins") {
    auto r =
        load_settings({"--config", config, "--zookeeper", "x:1", "--zookeeper=y:2"}, fake_env({}));
    REQUIRE(r.value);
    CHECK(r.value->zookeeper == "y:2");
  }
}

TEST_CASE("every config file key is read", "[config]") {
  fixture fx;
  make_templates(fx.templates, {"dac", "rules-x", "third"});
  auto r = fx.load_yaml(R"(
zookeeper: "zk1:2181, zk2:2182/iota"
mqtt:
  brokers: "mqtt://m1:1883, tcp://m2"
  topic: custom/notify
  clientId: orch-2
  reconnectPeriod: 500ms
  maxPayloadBytes: 2048
  maxIdsPerNotify: 7
kafka: { brokers: "k1:9092,k2:9093", topic: Beats }
http:
  listen: "0.0.0.0:9000"
  corsOrigins: ["http://a.example", "*"]
  bodyLimit: 100
  requestTimeout: 2s
  tokensFile: tokens.txt
  protectReads: true
  allowUnauthenticated: false
  tls: { cert: tls/cert.pem, key: tls/key.pem }
driver: kubernetes
kubernetes:
  url: "http://127.0.0.1:6443/prefix"
  namespace: iota-test
  insecureSkipTlsVerify: false
  runInPod: true
  token: abc
liveness: { heartbeatPeriod: 1m, podCheckPeriod: 30s, gracePeriod: 0s, maxBackoff: 1h, maxOfflineFraction: 1 }
reconcileInterval: 90s
orchestrator: { batchSize: 5, maxMovesPerStep: 3, maxQueuedEvents: 99 }
logLevel: error
resources:
  - resource: Device_2
    instanceName: dac
    heart: yes
    initInstances: 2
    maxInstances: 50
    resourcePerInstance: 100
    dependsOn: [Meta, Meta, Other]
    inventory: { postgres: "host=/tmp dbname=iota" }
  - resource: Job
    instanceName: rules-x
    inventory: { postgres: "dbname=x", query: "SELECT id FROM jobs WHERE live" }
  - resource: Plain
    instanceName: third
)");
  INFO(r.error);
  REQUIRE(r.value);
  const auto& s = *r.value;
  CHECK(s.warnings.empty());
  CHECK(s.zookeeper == "zk1:2181,zk2:2182/iota");
  CHECK(s.mqtt.brokers == "mqtt://m1:1883,tcp://m2");
  CHECK(s.mqtt.topic == "custom/notify");
  CHECK(s.mqtt.client_id == "orch-2");
  CHECK(s.mqtt.reconnect_period == 500ms);
  CHECK(s.mqtt.max_payload_bytes == 2048);
  CHECK(s.mqtt.max_ids_per_notify == 7);
  CHECK(s.kafka.brokers == "k1:9092,k2:9093");
  CHECK(s.kafka.topic == "Beats");
  CHECK(s.http.listen == "0.0.0.0:9000");
  CHECK(s.http.cors_origins == std::vector<std::string>{"http://a.example", "*"});
  CHECK(s.http.body_limit == 100);
  CHECK(s.http.request_timeout == 2s);
  CHECK(s.http.tokens_file == (fs::path(fx.config).parent_path() / "tokens.txt").string());
  CHECK(s.http.protect_reads);
  CHECK_FALSE(s.http.allow_unauthenticated);
  CHECK(s.http.tls_cert == (fs::path(fx.config).parent_path() / "tls" / "cert.pem").string());
  CHECK(s.http.tls_key == (fs::path(fx.config).parent_path() / "tls" / "key.pem").string());
  CHECK(s.driver == "kubernetes");
  CHECK(s.kubernetes.url == "http://127.0.0.1:6443/prefix");
  CHECK(s.kubernetes.namespace_name == "iota-test");
  CHECK_FALSE(s.kubernetes.insecure_skip_tls_verify);
  CHECK(s.kubernetes.run_in_pod);
  CHECK(s.kubernetes.token == "abc");
  CHECK(s.liveness.heartbeat_period == 1min);
  CHECK(s.liveness.pod_check_period == 30s);
  CHECK(s.liveness.grace_period == 0s);
  CHECK(s.liveness.max_backoff == 1h);
  CHECK(s.liveness.max_offline_fraction == 1.0);
  CHECK(s.reconcile_interval == 90s);
  CHECK(s.orchestrator.batch_size == 5);
  CHECK(s.orchestrator.max_moves_per_step == 3);
  CHECK(s.orchestrator.max_queued_events == 99);
  CHECK(s.log_level == "error");

  REQUIRE(s.resources.size() == 3);
  const auto& a = s.resources[0];
  CHECK(a.resource == "Device_2");
  CHECK(a.instance_name == "dac");
  CHECK(a.heart);
  CHECK(a.options.init_instances == 2);
  CHECK(a.options.max_instances == 50);
  CHECK(a.options.resource_per_instance == 100);
  CHECK(a.depends_on == std::vector<std::string>{"Meta", "Other"});
  CHECK(a.inventory.file.empty());
  CHECK(a.inventory.postgres == "host=/tmp dbname=iota");
  CHECK(a.inventory.query == "SELECT id FROM \"Device_2\"");
  CHECK(a.template_file == (fs::path(fx.templates) / "dac" / "pod-template.yml").string());
  const auto& b = s.resources[1];
  CHECK_FALSE(b.heart);
  CHECK(b.options.init_instances == 10);
  CHECK(b.options.max_instances == 100);
  CHECK(b.options.resource_per_instance == 5000);
  CHECK(b.depends_on.empty());
  CHECK(b.inventory.query == "SELECT id FROM jobs WHERE live");
  const auto& c = s.resources[2];
  CHECK(c.inventory.file == "./inventory/Plain.txt");  // absent inventory: the default file
  CHECK(c.inventory.postgres.empty());
}

TEST_CASE("a bad config file names the key, the file and the value", "[config]") {
  fixture fx;
  const std::string src = "(file " + fx.config + ")";
  struct row {
    const char* yaml;
    std::vector<std::string> parts;
  };
  const std::vector<row> rows{
      // unknown keys
      {"zookeper: \"a:1\"\n", {"config: zookeper " + src, "unknown key", "\"zookeper\""}},
      {"mqtt: { brokerz: x }\n", {"mqtt.brokerz " + src, "unknown key", "brokers"}},
      {"resources:\n  - { resource: A, instanceName: iota-dac, colour: red }\n",
       {"resources[0].colour " + src, "unknown key", "\"colour\""}},
      {"resources:\n  - { resource: A, instanceName: iota-dac, inventory: { file: x, pg: y } }\n",
       {"resources[0].inventory.pg", "unknown key"}},
      {"zookeeper: \"a:1\"\nzookeeper: \"b:2\"\n", {"zookeeper " + src, "duplicate key"}},
      // wrong types
      {"resources:\n  - { resource: A, instanceName: iota-dac }\n  - { resource: B, "
       "instanceName: iota-rules-engine, maxInstances: abc }\n",
       {"config: resources[1].maxInstances " + src + ": expected an integer, got \"abc\""}},
      {"resources:\n  - { resource: A, instanceName: iota-dac, initInstances: 1.5 }\n",
       {"resources[0].initInstances", "expected an integer", "\"1.5\""}},
      {"zookeeper: [a, b]\n", {"zookeeper " + src, "expected a string", "[a, b]"}},
      {"zookeeper: { host: a }\n", {"zookeeper.host " + src, "unknown key (known keys: hosts, sessionTimeout)"}},
      {"zookeeper: { hosts: \"a:1\", sessionTimeout: 0s }\n", {"zookeeper.sessionTimeout " + src, "\"0s\""}},
      {"mqtt: { topic: [a, b] }\n", {"mqtt.topic", "expected a string", "[a, b]"}},
      {"mqtt: cm/notify\n", {"config: mqtt " + src, "expected a map", "\"cm/notify\""}},
      {"mqtt:\n", {"config: mqtt " + src, "expected a map", "\"null\""}},
      {"mqtt: { maxPayloadBytes: 0 }\n", {"mqtt.maxPayloadBytes", ">= 1", "\"0\""}},
      {"history: { eventsPerResource: 0 }\n", {"history.eventsPerResource", ">= 1", "\"0\""}},
      {"history: { size: 5 }\n", {"history.size"}},
      {"orchestrator: { maxMovesPerStep: -1 }\n",
       {"orchestrator.maxMovesPerStep", "non-negative", "\"-1\""}},
      {"orchestrator: { maxQueuedEvents: 99999999999999999999999 }\n",
       {"orchestrator.maxQueuedEvents", "\"99999999999999999999999\""}},
      {"http: { bodyLimit: 12kb }\n", {"http.bodyLimit", "expected an integer", "\"12kb\""}},
      {"http: { corsOrigins: \"*\" }\n", {"http.corsOrigins", "expected a list", "\"*\""}},
      {"kubernetes: { runInPod: maybe }\n", {"kubernetes.runInPod", "true or false", "\"maybe\""}},
      {"resources: { resource: A }\n", {"config: resources " + src, "expected a list"}},
      {"resources: []\n", {"config: resources " + src, "at least one resource"}},
      {"- a\n- b\n", {"(top level) " + src, "expected a map", "[a, b]"}},
      // durations
      {"mqtt: { reconnectPeriod: 10 }\n", {"mqtt.reconnectPeriod " + src, "duration", "\"10\""}},
      {"liveness: { heartbeatPeriod: 90 s }\n", {"liveness.heartbeatPeriod", "\"90 s\""}},
      {"reconcileInterval: 0s\n", {"reconcileInterval", "greater than zero", "\"0s\""}},
      {"liveness: { gracePeriod: soon }\n", {"liveness.gracePeriod", "duration", "\"soon\""}},
      {"http: { requestTimeout: -1s }\n", {"http.requestTimeout", "\"-1s\""}},
      // addresses
      {"http: { listen: \"localhost\" }\n", {"http.listen " + src, "ADDR:PORT", "\"localhost\""}},
      {"http: { listen: \"0.0.0.0:0\" }\n", {"http.listen", "port 1-65535", "\"0.0.0.0:0\""}},
      {"http: { listen: \"0.0.0.0:65536\" }\n", {"http.listen", "\"0.0.0.0:65536\""}},
      {"http: { listen: \":8080\" }\n", {"http.listen", "\":8080\""}},
      {"mqtt: { brokers: \"http://broker:1883\" }\n",
       {"mqtt.brokers " + src, "mqtt://", "\"http://broker:1883\""}},
      {"mqtt: { brokers: \"mqtt://a:1883,broker:1883\" }\n",
       {"mqtt.brokers", "\"mqtt://a:1883,broker:1883\""}},
      {"mqtt: { brokers: \"mqtt://a:99999\" }\n", {"mqtt.brokers", "\"mqtt://a:99999\""}},
      {"zookeeper: \"zk\"\n", {"zookeeper " + src, "HOST:PORT", "\"zk\""}},
      {"zookeeper: \"zk:2181,\"\n", {"zookeeper", "\"zk:2181,\""}},
      {"kafka: { brokers: \"k1\" }\n", {"kafka.brokers", "HOST:PORT", "\"k1\""}},
      {"kubernetes: { url: \"kubernetes.default.svc\" }\n",
       {"kubernetes.url", "https://", "\"kubernetes.default.svc\""}},
      {"kubernetes: { namespace: Iota_NS }\n", {"kubernetes.namespace", "\"Iota_NS\""}},
      // enumerations and numbers
      {"driver: docker\n", {"config: driver " + src, "local or kubernetes", "\"docker\""}},
      {"logLevel: verbose\n", {"logLevel " + src, "trace", "\"verbose\""}},
      {"liveness: { maxOfflineFraction: 0 }\n", {"liveness.maxOfflineFraction", "(0, 1]", "\"0\""}},
      {"liveness: { maxOfflineFraction: 1.5 }\n", {"liveness.maxOfflineFraction", "\"1.5\""}},
      {"liveness: { maxOfflineFraction: half }\n", {"liveness.maxOfflineFraction", "\"half\""}},
      {"orchestrator: { batchSize: 0 }\n", {"orchestrator.batchSize " + src, ">= 1", "\"0\""}},
      {"mqtt: { topic: \"\" }\n", {"mqtt.topic", "non-empty", "\"\""}},
      // resources
      {"resources:\n  - { resource: A, instanceName: iota-dac }\n  - { resource: A, "
       "instanceName: iota-rules-engine }\n",
       {"resources[1].resource " + src, "duplicate resource", "\"A\""}},
      {"resources:\n  - { resource: A, instanceName: iota-dac }\n  - { resource: B, "
       "instanceName: iota-dac }\n",
       {"resources[1].instanceName", "duplicate instanceName", "\"iota-dac\""}},
      {"resources:\n  - { resource: \"Th-ing\", instanceName: iota-dac }\n",
       {"resources[0].resource " + src, "\"Th-ing\""}},
      {"resources:\n  - { resource: \"a/b\", instanceName: iota-dac }\n",
       {"resources[0].resource", "\"a/b\""}},
      {"resources:\n  - { resource: A, instanceName: Iota_Dac }\n",
       {"resources[0].instanceName " + src, "DNS label", "\"Iota_Dac\""}},
      {"resources:\n  - { resource: A, instanceName: iota-dac- }\n",
       {"resources[0].instanceName", "\"iota-dac-\""}},
      {"resources:\n  - { resource: A, instanceName: "
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa }\n",
       {"resources[0].instanceName", "at most 50"}},
      {"resources:\n  - { resource: A }\n",
       {"resources[0].instanceName " + src, "missing", "\"A\""}},
      {"resources:\n  - { instanceName: iota-dac }\n", {"resources[0].resource " + src, "missing"}},
      {"resources:\n  - { resource: A, instanceName: no-such-template }\n",
       {"resources[0].instanceName " + src, "pod template",
        (fs::path(fx.templates) / "no-such-template" / "pod-template.yml").string(),
        "\"no-such-template\""}},
      {"resources:\n  - { resource: A, instanceName: iota-dac, inventory: { file: a, postgres: b } "
       "}\n",
       {"resources[0].inventory " + src, "exactly one of file or postgres", "both"}},
      {"resources:\n  - { resource: A, instanceName: iota-dac, inventory: {} }\n",
       {"resources[0].inventory " + src, "exactly one of file or postgres", "neither"}},
      {"resources:\n  - { resource: A, instanceName: iota-dac, inventory: { query: q } }\n",
       {"resources[0].inventory", "neither"}},
      {"resources:\n  - { resource: A, instanceName: iota-dac, inventory: { file: a, query: q } "
       "}\n",
       {"resources[0].inventory.query", "postgres", "\"q\""}},
      {"resources:\n  - { resource: A, instanceName: iota-dac, dependsOn: [B, \"C D\"] }\n",
       {"resources[0].dependsOn[1]", "\"C D\""}},
      {"resources:\n  - { resource: A, instanceName: iota-dac, dependsOn: [A] }\n",
       {"resources[0].dependsOn", "own table", "\"A\""}},
      {"resources:\n  - { resource: A, instanceName: iota-dac, dependsOn: B }\n",
       {"resources[0].dependsOn", "list", "\"B\""}},
      {"resources:\n  - { resource: A, instanceName: iota-dac, heart: 1x }\n",
       {"resources[0].heart", "true or false", "\"1x\""}},
      {"resources:\n  - A\n", {"config: resources[0] " + src, "expected a map", "\"A\""}},
      // not YAML at all
      {"mqtt: [a, b\nkafka: 1\n", {"config file " + src, "invalid YAML at line", "\"kafka: 1\""}},
      {"a: b: c\n", {"config file", "invalid YAML at line 1"}},
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    INFO("case " << i << ", yaml:\n" << row.yaml);
    load_result r;
    REQUIRE_NOTHROW(r = fx.load_yaml(row.yaml));
    check_error(r, row.parts);
  }
}

TEST_CASE("an unreadable config file is an error naming where its name came from", "[config]") {
  temp_dir dir;
  make_templates(dir.path() / "templates");
  const auto missing = dir.str("missing.yml");

  SECTION("missing file from --config") {
    auto r = load_settings({"--config", missing}, fake_env({}));
    check_error(r, {"config file (flag --config)", "no such file", "\"" + missing + "\""});
  }
  SECTION("missing file from IOTA_CONFIG") {
    auto r = load_settings({}, fake_env({{"IOTA_CONFIG", missing}}));
    check_error(r, {"config file (env IOTA_CONFIG)", "\"" + missing + "\""});
  }
  SECTION("a directory") {
    auto r = load_settings({"--config", dir.str()}, fake_env({}));
    check_error(r, {"config file (flag --config)", "directory", "\"" + dir.str() + "\""});
  }
  SECTION("unreadable") {
    const auto locked = dir.str("locked.yml");
    write_file(locked, "zookeeper: \"a:1\"\n");
    fs::permissions(locked, fs::perms::none);
    std::ifstream probe(locked);
    if (probe) {
      WARN("running as root: file permissions are not enforced, skipping");
    } else {
      auto r = load_settings({"--config", locked}, fake_env({}));
      check_error(r, {"config file (flag --config)", "cannot read", "\"" + locked + "\""});
    }
  }
  SECTION("binary garbage") {
    const auto garbage = dir.str("garbage.yml");
    static const char bytes[] = "\x01\x02{{[[\xff\xfe: : :\n\t- ]\0tail";
    write_file(garbage, std::string(bytes, sizeof bytes - 1));
    load_result r;
    REQUIRE_NOTHROW(r = load_settings({"--config", garbage}, fake_env({})));
    check_error(r, {"(file " + garbage + ")"});
  }
  SECTION("an empty file, or comments only, means all defaults") {
    const auto empty = dir.str("empty.yml");
    write_file(empty, "# nothing here\n");
    auto r = load_settings({"--config", empty, "--templates", dir.str("templates")}, fake_env({}));
    INFO(r.error);
    REQUIRE(r.value);
    check_default_values(*r.value);
    CHECK(r.value->config_file == empty);
  }
}

TEST_CASE("bad flags and env vars name the flag or variable and the value", "[config]") {
  temp_dir dir;
  make_templates(dir.path() / "templates");
  const std::string tpl = dir.str("templates");

  SECTION("unknown flag") {
    check_error(load_settings({"--zookeper", "a:1"}, fake_env({})),
                {"--zookeper (command line)", "unknown flag", "\"--zookeper\""});
    check_error(load_settings({"--colour=red"}, fake_env({})),
                {"--colour", "unknown flag", "\"--colour=red\""});
  }
  SECTION("positional argument") {
    check_error(load_settings({"config.yml"}, fake_env({})),
                {"unexpected argument", "\"config.yml\""});
    check_error(load_settings({"-z"}, fake_env({})), {"unexpected argument", "\"-z\""});
  }
  SECTION("missing value") {
    check_error(load_settings({"--templates", tpl, "--zookeeper"}, fake_env({})),
                {"zookeeper (flag --zookeeper)", "missing value"});
    check_error(load_settings({"--zookeeper", "--driver", "local"}, fake_env({})),
                {"zookeeper (flag --zookeeper)", "missing value", "\"--driver\""});
    check_error(load_settings({"--config"}, fake_env({})),
                {"config file (flag --config)", "missing value"});
    check_error(load_settings({"--config="}, fake_env({})),
                {"config file (flag --config)", "missing value"});
  }
  SECTION("--help and --version take no value") {
    check_error(load_settings({"--help=yes"}, fake_env({})), {"--help", "takes no value"});
  }
  SECTION("bad values from flags") {
    check_error(load_settings({"--templates", tpl, "--http-listen", "8080"}, fake_env({})),
                {"config: http.listen (flag --http-listen): expected ADDR:PORT with port 1-65535, "
                 "got \"8080\""});
    check_error(load_settings({"--templates", tpl, "--driver=docker"}, fake_env({})),
                {"driver (flag --driver)", "\"docker\""});
    check_error(load_settings({"--templates", tpl, "--mqtt-brokers", "amqp://x"}, fake_env({})),
                {"mqtt.brokers (flag --mqtt-brokers)", "\"amqp://x\""});
    check_error(load_settings({"--templates", tpl, "--log-level", "loud"}, fake_env({})),
                {"logLevel (flag --log-level)", "\"loud\""});
    check_error(load_settings({"--templates", tpl, "--zookeeper", "zk:abc"}, fake_env({})),
                {"zookeeper (flag --zookeeper)", "\"zk:abc\""});
    check_error(load_settings({"--templates", tpl, "--kafka-brokers", "k:0"}, fake_env({})),
                {"kafka.brokers (flag --kafka-brokers)", "\"k:0\""});
    check_error(load_settings({"--templates="}, fake_env({})),
                {"templatesPath (flag --templates)", "non-empty"});
  }
  SECTION("bad values from env vars") {
    check_error(load_settings({"--templates", tpl}, fake_env({{"IOTA_DRIVER", "docker"}})),
                {"config: driver (env IOTA_DRIVER): expected local or kubernetes, got \"docker\""});
    check_error(load_settings({"--templates", tpl}, fake_env({{"IOTA_HTTP_LISTEN", "x:99999"}})),
                {"http.listen (env IOTA_HTTP_LISTEN)", "\"x:99999\""});
    check_error(load_settings({"--templates", tpl}, fake_env({{"IOTA_LOG_LEVEL", "INFO"}})),
                {"logLevel (env IOTA_LOG_LEVEL)", "\"INFO\""});
    check_error(load_settings({"--templates", tpl}, fake_env({{"IOTA_MQTT_BROKERS", "x:1"}})),
                {"mqtt.brokers (env IOTA_MQTT_BROKERS)", "\"x:1\""});
  }
  SECTION("every layer is checked, even one that a flag overrides") {
    check_error(load_settings({"--templates", tpl, "--driver", "local"},
                              fake_env({{"IOTA_DRIVER", "docker"}})),
                {"driver (env IOTA_DRIVER)", "\"docker\""});
  }
  SECTION("missing pod templates") {
    const auto empty = dir.str("empty");
    fs::create_directories(empty);
    auto r = load_settings({}, fake_env({{"IOTA_TEMPLATES", empty}}));
    check_error(r, {"resources[0].instanceName (default)", "pod template",
                    (fs::path(empty) / "iota-dac" / "pod-template.yml").string(),
                    "env IOTA_TEMPLATES", "\"iota-dac\""});
    make_templates(empty, {"iota-dac"});
    r = load_settings({}, fake_env({{"IOTA_TEMPLATES", empty}}));
    check_error(r, {"resources[1].instanceName (default)", "iota-rules-engine"});
    // A directory where the template file should be is not a template.
    fs::create_directories(fs::path(empty) / "iota-rules-engine" / "pod-template.yml");
    r = load_settings({}, fake_env({{"IOTA_TEMPLATES", empty}}));
    check_error(r, {"resources[1].instanceName", "pod template"});
  }
}

TEST_CASE("out-of-range options fall back to the default with a warning", "[config]") {
  fixture fx;
  make_templates(fx.templates, {"iota-dac-2", "iota-dac-3"});
  auto r = fx.load_yaml(R"(
resources:
  - resource: Thing
    instanceName: iota-dac
    initInstances: 0
    maxInstances: 2
    resourcePerInstance: 5000
  - resource: Rule
    instanceName: iota-rules-engine
    initInstances: -3
    maxInstances: 100
    resourcePerInstance: 99999999999999999999999
  - resource: Other
    instanceName: iota-dac-2
    initInstances: 1
    maxInstances: 99
    resourcePerInstance: 4999
  - resource: Edge
    instanceName: iota-dac-3
    maxInstances: 3
    resourcePerInstance: 1
)");
  INFO(r.error);
  REQUIRE(r.value);
  const auto& s = *r.value;
  REQUIRE(s.resources.size() == 4);
  CHECK(s.resources[0].options.init_instances == 10);
  CHECK(s.resources[0].options.max_instances == 100);
  CHECK(s.resources[0].options.resource_per_instance == 5000);
  CHECK(s.resources[1].options.init_instances == 10);
  CHECK(s.resources[1].options.max_instances == 100);
  CHECK(s.resources[1].options.resource_per_instance == 5000);
  CHECK(s.resources[2].options.init_instances == 1);
  CHECK(s.resources[2].options.max_instances == 99);
  CHECK(s.resources[2].options.resource_per_instance == 4999);
  CHECK(s.resources[3].options.max_instances == 3);
  CHECK(s.resources[3].options.resource_per_instance == 1);

  // Exactly one warning per out-of-range value that differs from the default.
  REQUIRE(s.warnings.size() == 4);
  CHECK(s.warnings[0] ==
        "resources[0].initInstances: 0 is out of range (initInstances >= 1), "
        "using 10");
  CHECK(s.warnings[1] ==
        "resources[0].maxInstances: 2 is out of range (3 <= maxInstances < 100), using 100");
  CHECK(s.warnings[2] ==
        "resources[1].initInstances: -3 is out of range (initInstances >= 1), "
        "using 10");
  CHECK(s.warnings[3] ==
        "resources[1].resourcePerInstance: 99999999999999999999999 is out of range "
        "(0 < resourcePerInstance < 5000), using 5000");
}

TEST_CASE("--help and --version", "[config]") {
  SECTION("--help") {
    auto r = load_settings({"--help"}, fake_env({}));
    CHECK(r.help);
    CHECK_FALSE(r.version);
    CHECK_FALSE(r.value);
    CHECK(r.error.empty());
  }
  SECTION("-h, even with other (bad) arguments, and without loading anything") {
    auto r = load_settings({"--config", "/no/such/file.yml", "--bogus", "-h"},
                           fake_env({{"IOTA_DRIVER", "docker"}}));
    CHECK(r.help);
    CHECK(r.error.empty());
    CHECK_FALSE(r.value);
  }
  SECTION("--version") {
    auto r = load_settings({"--zookeeper", "a:1", "--version"}, fake_env({}));
    CHECK(r.version);
    CHECK_FALSE(r.help);
    CHECK(r.error.empty());
    CHECK_FALSE(r.value);
  }
  SECTION("usage lists every flag and its env var") {
    auto text = iota::config::usage();
    for (const auto* part : {"--config",         "--zookeeper",       "--mqtt-brokers",
                             "--kafka-brokers",  "--http-listen",     "--driver",
                             "--templates",      "--log-level",       "--auth-token",
                             "--help",           "--version",         "IOTA_CONFIG",
                             "IOTA_ZOOKEEPER",   "IOTA_MQTT_BROKERS", "IOTA_KAFKA_BROKERS",
                             "IOTA_HTTP_LISTEN", "IOTA_DRIVER",       "IOTA_TEMPLATES",
                             "IOTA_LOG_LEVEL",   "IOTA_AUTH_TOKEN",   "local|kubernetes"}) {
      INFO(part);
      CHECK(text.find(part) != std::string::npos);
    }
  }
}

TEST_CASE("relative paths: file ones against the file's directory, others against cwd",
          "[config]") {
  temp_dir dir;
  make_templates(dir.path() / "tpl");
  make_templates(dir.path() / "conf" / "tpl2");
  write_file(dir.path() / "conf" / "a.yml", R"(
templatesPath: ../tpl
resources:
  - { resource: Thing, instanceName: iota-dac, inventory: { file: ids/thing.txt } }
  - { resource: Rule, instanceName: iota-rules-engine, inventory: { file: /abs/rule.txt } }
  - { resource: Pg, instanceName: iota-dac-pg, inventory: { postgres: "dbname=./x" } }
)");
  make_templates(dir.path() / "tpl", {"iota-dac-pg"});
  make_templates(dir.path() / "conf" / "tpl2", {"iota-dac-pg"});

  SECTION("absolute config path") {
    auto r = load_settings({"--config", dir.str("conf/a.yml")}, fake_env({}));
    INFO(r.error);
    REQUIRE(r.value);
    CHECK(r.value->templates_path == dir.str("tpl"));
    CHECK(r.value->resources[0].inventory.file == dir.str("conf/ids/thing.txt"));
    CHECK(r.value->resources[1].inventory.file == "/abs/rule.txt");
    CHECK(r.value->resources[2].inventory.postgres == "dbname=./x");  // not a path
    CHECK(r.value->resources[0].template_file == dir.str("tpl/iota-dac/pod-template.yml"));
  }
  SECTION("relative config path, from another directory") {
    cwd_guard cwd(dir.path());
    auto r = load_settings({"--config", "conf/a.yml"}, fake_env({}));
    INFO(r.error);
    REQUIRE(r.value);
    CHECK(r.value->config_file == "conf/a.yml");
    CHECK(r.value->templates_path == "tpl");
    CHECK(r.value->resources[0].inventory.file == "conf/ids/thing.txt");
    CHECK(fs::equivalent(r.value->resources[0].template_file,
                         dir.path() / "tpl" / "iota-dac" / "pod-template.yml"));
  }
  SECTION("a relative --templates is against the current directory, not the file's") {
    cwd_guard cwd(dir.path() / "conf");
    auto r =
        load_settings({"--config", dir.str("conf/a.yml"), "--templates", "tpl2"}, fake_env({}));
    INFO(r.error);
    REQUIRE(r.value);
    CHECK(r.value->templates_path == "tpl2");
    CHECK(r.value->resources[0].template_file == "tpl2/iota-dac/pod-template.yml");
    // ...and the inventory path from the file is still against the file's directory.
    CHECK(r.value->resources[0].inventory.file == dir.str("conf/ids/thing.txt"));
  }
  SECTION("a relative IOTA_TEMPLATES likewise") {
    cwd_guard cwd(dir.path());
    auto r = load_settings({"--config", dir.str("conf/a.yml")},
                           fake_env({{"IOTA_TEMPLATES", "conf/tpl2"}}));
    INFO(r.error);
    REQUIRE(r.value);
    CHECK(r.value->templates_path == "conf/tpl2");
  }
}

TEST_CASE("the repository's config/default.yml holds the defaults", "[config]") {
  const fs::path source_dir = IOTA_SOURCE_DIR;
  const auto file = (source_dir / "config" / "default.yml").string();
  REQUIRE(fs::exists(file));

  auto check_paths_and_values = [&](const settings& s) {
    check_default_values(s);
    CHECK(s.config_file == file);
    // Its relative paths point at the repository's folders, as the defaults do from there.
    CHECK(s.resources[0].inventory.file ==
          (source_dir / "inventory" / "Thing.txt").lexically_normal().string());
    CHECK(s.resources[1].inventory.file ==
          (source_dir / "inventory" / "Rule.txt").lexically_normal().string());
  };

  SECTION("with the templates from a temp dir") {
    temp_dir dir;
    make_templates(dir.path());
    auto r = load_settings({"--config", file, "--templates", dir.str()}, fake_env({}));
    INFO(r.error);
    REQUIRE(r.value);
    check_paths_and_values(*r.value);
  }

  SECTION("with the repository's own templates") {
    const auto dac = source_dir / "templates" / "iota-dac" / "pod-template.yml";
    const auto rules = source_dir / "templates" / "iota-rules-engine" / "pod-template.yml";
    REQUIRE(fs::exists(dac));
    REQUIRE(fs::exists(rules));
    auto r = load_settings({"--config", file}, fake_env({}));
    INFO(r.error);
    REQUIRE(r.value);
    check_paths_and_values(*r.value);
    CHECK(r.value->templates_path == (source_dir / "templates").lexically_normal().string());
    CHECK(fs::equivalent(r.value->resources[0].template_file, dac));
  }
}

TEST_CASE("zookeeper is the ensemble, or a map of it and the session timeout", "[config]") {
  fixture fx;
  auto r = fx.load_yaml("zookeeper: \"z1:2181,z2:2181\"\n");
  INFO(r.error);
  REQUIRE(r.value);
  CHECK(r.value->zookeeper == "z1:2181,z2:2181");
  CHECK(r.value->zookeeper_session_timeout == std::chrono::seconds{6});  // the default
  r = fx.load_yaml("zookeeper: { hosts: \"z1:2181,z2:2181\", sessionTimeout: 4s }\n");
  INFO(r.error);
  REQUIRE(r.value);
  CHECK(r.value->zookeeper == "z1:2181,z2:2181");
  CHECK(r.value->zookeeper_session_timeout == std::chrono::seconds{4});
  r = fx.load_yaml("zookeeper: { sessionTimeout: 15s }\n");
  INFO(r.error);
  REQUIRE(r.value);
  CHECK(r.value->zookeeper == "localhost:2181");
  CHECK(r.value->zookeeper_session_timeout == std::chrono::seconds{15});
}

TEST_CASE("secure by default: a listener beyond loopback needs tokens or an explicit opt-out", "[config][auth]") {
  fixture fx;
  for (auto loopback : {"127.0.0.1:8080", "127.1.2.3:9", "localhost:80", "[::1]:8080"}) {
    auto r = fx.load_yaml("{}\n", {"--http-listen", loopback});
    INFO(loopback << ": " << r.error);
    CHECK(r.value);
  }
  auto refused = fx.load_yaml("http: { listen: \"0.0.0.0:8080\" }\n");
  REQUIRE_FALSE(refused.value);
  CHECK(refused.error.find("http.listen") != std::string::npos);
  CHECK(refused.error.find("http.tokensFile") != std::string::npos);
  CHECK(refused.error.find("http.allowUnauthenticated") != std::string::npos);
  CHECK(refused.error.find("0.0.0.0:8080") != std::string::npos);
  auto by_flag = fx.load_yaml("{}\n", {"--http-listen", "10.0.0.7:8080"});
  CHECK_FALSE(by_flag.value);
  auto with_tokens = fx.load_yaml("http: { listen: \"0.0.0.0:8080\", tokensFile: /etc/iota/tokens }\n");
  INFO(with_tokens.error);
  CHECK(with_tokens.value);
  auto opted_out = fx.load_yaml("http: { listen: \"0.0.0.0:8080\", allowUnauthenticated: true }\n");
  INFO(opted_out.error);
  CHECK(opted_out.value);
  auto half_tls = fx.load_yaml("http: { tls: { cert: /etc/c.pem } }\n");
  REQUIRE_FALSE(half_tls.value);
  CHECK(half_tls.error.find("http.tls.key") != std::string::npos);
}

TEST_CASE("process_env reads the process environment", "[config]") {
  auto env = iota::config::process_env();
  ::setenv("IOTA_CONFIG_TEST_VAR", "hello", 1);
  CHECK(env("IOTA_CONFIG_TEST_VAR") == std::optional<std::string>("hello"));
  ::setenv("IOTA_CONFIG_TEST_VAR", "", 1);
  CHECK_FALSE(env("IOTA_CONFIG_TEST_VAR").has_value());
  ::unsetenv("IOTA_CONFIG_TEST_VAR");
  CHECK_FALSE(env("IOTA_CONFIG_TEST_VAR").has_value());
}

// Found by tests/fuzz/config_fuzz: a YAML key holding a newline (a quoted or complex key)
// was copied raw into the error, which then ran over several lines.
TEST_CASE("control characters in keys and values never break the error line", "[config][fuzz]") {
  fixture fx;
  // The fuzzer's input: the complex key '1\x01 1\xff\xff\xff}' folded with a trailing newline.
  auto r = fx.load_yaml("? '1\x01" "1\xff\xff\xff}\n\n");
  check_error(r, {"unknown key", "1\\x011\xff\xff\xff}\\n"});
  r = fx.load_yaml("\"a\\nb\\rc\\td\": 1\n");
  check_error(r, {"config: a\\nb\\rc\\td (file ", "unknown key", "got \"a\\nb\\rc\\td\""});
  r = fx.load_yaml("mqtt: { \"x\\u0007y\": 1 }\n");
  check_error(r, {"config: mqtt.x\\x07y (file ", "unknown key"});
  r = fx.load_yaml("logLevel: \"in\\u007ffo\"\n");
  check_error(r, {"logLevel", "got \"in\\x7ffo\""});
}
