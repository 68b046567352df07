#include "apps/iota-orchestrator/component_settings.hpp"

#include <climits>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "io/kubernetes_driver.hpp"
#include "io/log.hpp"
#include "io/local_process_driver.hpp"

namespace iota::apps {

namespace {

// The daemon's own directory: the local driver finds iota-instance there first.
std::string own_dir() {
  char buf[PATH_MAX];
  auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0)
    return ".";
  std::string path(buf, static_cast<std::size_t>(n));
  return path.substr(0, path.rfind('/'));
}

}  // namespace

actors::orchestrator_settings orchestrator_settings_of(const config::settings& cfg,
                                                       const config::resource_settings& r) {
  actors::orchestrator_settings s;
  s.resource = r.resource;
  s.options = r.options;
  s.batch_size = cfg.orchestrator.batch_size;
  s.max_moves_per_step = cfg.orchestrator.max_moves_per_step;
  s.max_queued_events = cfg.orchestrator.max_queued_events;
  s.reconcile_interval = cfg.reconcile_interval;
  s.elected = true;  // HA: writes only while the leader actor says this daemon leads
  s.startup_wait = cfg.http.request_timeout;
  return s;
}

actors::fleet_settings fleet_settings_of(const config::settings& cfg,
                                         const config::resource_settings& r) {
  actors::fleet_settings fs;
  fs.resource = r.resource;
  fs.instance_name = r.instance_name;
  fs.supervisor.grace_period = cfg.liveness.grace_period;
  fs.supervisor.max_backoff = cfg.liveness.max_backoff;
  fs.supervisor.first_backoff = cfg.liveness.first_backoff;
  return fs;
}

actors::ticker_settings ticker_settings_of(const config::settings& cfg,
                                           const config::resource_settings& r) {
  actors::ticker_settings ts;
  ts.resource = r.resource;
  ts.period = cfg.liveness.heartbeat_period;
  ts.max_offline_fraction = cfg.liveness.max_offline_fraction;
  return ts;
}

io::kafka_consumer_settings kafka_settings_of(const config::settings& cfg,
                                              const config::resource_settings& r) {
  io::kafka_consumer_settings ks;
  ks.brokers = cfg.kafka.brokers;
  ks.topic = cfg.kafka.topic;
  ks.group_id = "iota-orchestrator-" + r.resource;
  return ks;
}

model::routing_table routing_of(const config::settings& cfg) {
  model::routing_table t;
  for (auto& r : cfg.resources) {
    t.resources.insert(r.resource);
    for (auto& dep : r.depends_on)
      t.dependents[dep].push_back(r.resource);
  }
  return t;
}

actors::mqtt_bridge_settings bridge_settings_of(const config::settings& cfg) {
  actors::mqtt_bridge_settings b;
  b.routing = routing_of(cfg);
  b.limits.max_payload_bytes = cfg.mqtt.max_payload_bytes;
  b.limits.max_ids = cfg.mqtt.max_ids_per_notify;
  return b;
}

actors::leader_settings leader_settings_of(const config::settings& cfg) {
  actors::leader_settings ls;
  for (auto& r : cfg.resources)
    ls.resources.push_back(r.resource);
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  nlohmann::json who = {{"daemon", std::string{host} + ":" + std::to_string(::getpid())},
                        {"http", cfg.http.listen}};
  ls.data = who.dump();
  ls.session_timeout = cfg.zookeeper_session_timeout;
  return ls;
}

io::http_server_settings http_server_settings_of(const config::settings& cfg,
                                                 std::chrono::milliseconds response_timeout) {
  io::http_server_settings hs;
  hs.listen = cfg.http.listen;
  hs.body_limit = cfg.http.body_limit;
  hs.cors_origins = cfg.http.cors_origins;
  hs.response_timeout = response_timeout;
  hs.tls_cert = cfg.http.tls_cert;
  hs.tls_key = cfg.http.tls_key;
  hs.on_event = [](const std::string& text) { log::warn("http", text); };
  return hs;
}

io::mqtt_settings mqtt_settings_of(const config::settings& cfg) {
  io::mqtt_settings ms;
  ms.brokers = io::parse_broker_urls(cfg.mqtt.brokers);
  ms.client_id = cfg.mqtt.client_id;
  ms.topic = cfg.mqtt.topic;
  ms.reconnect_period = cfg.mqtt.reconnect_period;
  ms.persistence_dir = cfg.mqtt.journal_dir + "/paho";
  return ms;
}

io::journal_settings journal_settings_of(const config::settings& cfg) {
  io::journal_settings js;
  js.dir = cfg.mqtt.journal_dir;
  js.sync = cfg.mqtt.journal_sync;
  return js;
}

std::shared_ptr<io::inventory_source> make_inventory(const config::resource_settings& r) {
  if (!r.inventory.postgres.empty())
    return io::make_postgres_inventory(r.inventory.postgres, r.inventory.query);
  if (!r.inventory.file.empty())
    return io::make_file_inventory(r.inventory.file);
  return nullptr;
}

std::shared_ptr<io::instance_driver> make_driver(const config::settings& cfg, std::string& error) {
  if (cfg.driver == "kubernetes") {
    io::kubernetes_settings k;
    k.url = cfg.kubernetes.url;
    k.namespace_name = cfg.kubernetes.namespace_name;
    k.token = cfg.kubernetes.token;
    k.insecure_skip_tls_verify = cfg.kubernetes.insecure_skip_tls_verify;
    k.run_in_pod = cfg.kubernetes.run_in_pod;
    if (k.run_in_pod)
      k = io::in_cluster(k, {}, &error);
    if (!error.empty())
      return nullptr;
    return io::make_kubernetes_driver(k);
  }
  io::local_driver_settings l;
  l.log_dir = cfg.local_driver.log_dir;
  l.bin_dir = cfg.local_driver.bin_dir.empty() ? own_dir() : cfg.local_driver.bin_dir;
  l.env_overrides = {{"IOTA_ZOOKEEPER", cfg.zookeeper}, {"IOTA_KAFKA_BROKERS", cfg.kafka.brokers}};
  return io::make_local_process_driver(l);
}

}  // namespace iota::apps
