#pragma once
// The daemon's settings (shared/SPEC.md sections 8 and 13): each setting comes from a
// command-line flag, else an environment variable, else the YAML config file, else the
// default. Loading never throws: a bad setting yields one error line naming the key, where
// it came from and the bad value (the daemon prints it and exits 2).
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/options.hpp"

namespace iota::config {

// Environment access is injected so tests need not touch the process environment.
using env_lookup = std::function<std::optional<std::string>(const std::string& name)>;
env_lookup process_env();  // reads ::getenv; an empty variable counts as unset

// Where `orchestrate` and reconcile read the ids of a resource type: exactly one of
// `file` (one id per line) or `postgres` (a libpq conninfo string) is set.
struct inventory_settings {
  std::string file;
  std::string postgres;
  std::string query;  // postgres only; default: SELECT id FROM "<Resource>"
};

struct resource_settings {
  std::string resource;       // table name and znode name: [A-Za-z0-9_]+
  std::string instance_name;  // pod name prefix: lowercase DNS label, at most 50 chars
  bool heart = false;
  model::resource_options options;      // out-of-range values already replaced by defaults
  std::vector<std::string> depends_on;  // a change to one of these tables reloads every instance
  inventory_settings inventory;
  std::string template_file;  // <templatesPath>/<instanceName>/pod-template.yml, checked to exist
};

// Section 1's two resource types, as the daemon runs them with no config file
// (template_file is left empty: load_settings resolves it).
std::vector<resource_settings> default_resources();

struct settings {
  std::string config_file;  // "" when none
  std::string zookeeper = "localhost:2181";
  // The ZooKeeper session: a daemon unheard this long loses its election znode, so a standby
  // takes over about this long after the leader dies (SPEC 10).
  std::chrono::milliseconds zookeeper_session_timeout{6000};
  struct {
    std::string brokers = "mqtt://localhost:1883";  // comma-separated mqtt:// or tcp:// URLs
    std::string topic = "cm/notify";
    std::string client_id = "iota-orchestrator";
    std::chrono::milliseconds reconnect_period{10000};
    std::size_t max_payload_bytes = 1048576;
    std::size_t max_ids_per_notify = 20000;
    // Every notify is journaled here before the broker is acknowledged (see README).
    std::string journal_dir = "./data/notify-journal";
    bool journal_sync = false;     // fsync each append: survives machine loss, not only kill -9
    std::size_t window = 20000;    // notifies taken but not yet durable; beyond, intake waits
  } mqtt;
  struct {
    std::string brokers = "localhost:9092";
    std::string topic = "HeartBeat";
  } kafka;
  struct {
    std::string listen = "127.0.0.1:8080";
    std::vector<std::string> cors_origins;
    std::size_t body_limit = 65536;
    std::chrono::milliseconds request_timeout{10000};
    // Who may change things (SPEC 15): bearer tokens, one per line, re-read on change. Set,
    // every write needs one; protect_reads extends that to the reads and /metrics.
    std::string tokens_file;
    bool protect_reads = false;
    // A listen address other than loopback needs tokens_file, unless the operator says the
    // port is protected otherwise (e.g. behind the platform's gateway).
    bool allow_unauthenticated = false;
    std::string tls_cert;  // PEM certificate chain; with tls_key, the API is served as HTTPS
    std::string tls_key;   // PEM private key
  } http;
  std::string driver = "local";  // local | kubernetes
  struct {
    std::string url = "https://kubernetes.default.svc";
    std::string namespace_name = "iota";
    bool insecure_skip_tls_verify = true;
    bool run_in_pod = false;
    std::string token;
  } kubernetes;
  struct {
    std::string log_dir = "./data/instances";  // one log file per instance
    std::string bin_dir;                         // where the template's command is looked up first ("" = the daemon's own dir)
  } local_driver;
  std::string templates_path = "./templates";
  struct {
    std::chrono::milliseconds heartbeat_period{90000};
    std::chrono::milliseconds pod_check_period{60000};
    std::chrono::milliseconds grace_period{90000};
    std::chrono::milliseconds max_backoff{600000};
    std::chrono::milliseconds first_backoff{10000};  // crash loop: the 2nd restart in a row waits this, doubling
    double max_offline_fraction = 0.5;
  } liveness;
  std::chrono::milliseconds reconcile_interval{600000};
  std::size_t history_events_per_resource = 10000;  // SPEC 14: the decision history's ring
  struct {
    // Most events applied in one batch. A batch takes what queued while the previous one was
    // written, so it only grows under load; at production size (5,000 UUIDs per instance) a
    // batch of random events rewrites nearly every instance whatever its size, so a big one
    // amortises that.
    std::size_t batch_size = 1000000;
    std::size_t max_moves_per_step = 0;  // 0 = unlimited
    std::size_t max_queued_events = 1000000;
  } orchestrator;
  std::string log_level = "info";  // trace | debug | info | warn | error
  std::vector<resource_settings> resources = default_resources();
  std::vector<std::string> warnings;  // e.g. an out-of-range option fell back to its default

  // The resource with this table name, or nullptr.
  const resource_settings* find_resource(const std::string& resource) const;
};

struct load_result {
  std::optional<settings> value;  // set on success
  std::string error;              // one line on failure
  bool help = false;              // --help seen: the caller prints usage() and exits 0
  bool version = false;           // --version seen: the caller prints its version and exits 0
};

// `args` is argv without argv[0].
load_result load_settings(const std::vector<std::string>& args, const env_lookup& env);

// The --help text.
std::string usage();

}  // namespace iota::config
