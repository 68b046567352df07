#include "actors/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

namespace iota::actors {

namespace {

// Domain counters that are levels, not running totals (Prometheus gauges: no _total).
const std::set<std::string> gauges = {"instances",        "resources",     "queued_events",     "in_flight",
                                      "broker_connected", "window_in_use", "journal_committed", "leader",
                                      "leads_all",        "maintenance",   "consumer_healthy",  "suspended",       "zookeeper_connected"};

bool is_gauge(const std::string& name) {
  if (gauges.count(name) != 0 || (name.size() > 4 && name.compare(name.size() - 4, 4, "_max") == 0))
    return true;
  // The leader actor's "leader_<Resource>" (1 while this daemon leads it); its changes count.
  return name.rfind("leader_", 0) == 0 && name.rfind("leader_changes_", 0) != 0;
}

std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string metric_name(const std::string& raw) {
  std::string out = "iota_";
  for (char c : raw)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return out;
}

std::string number(double v) {
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

struct family {
  std::string type;
  std::string help;
  std::vector<std::string> samples;
};

}  // namespace

std::string render_prometheus(const std::vector<msg::actor_stats>& stats) {
  std::map<std::string, family> families;
  auto add = [&](const std::string& name, const char* type, const char* help, std::string sample) {
    auto& f = families[name];
    f.type = type;
    f.help = help;
    f.samples.push_back(std::move(sample));
  };
  for (auto& a : stats) {
    auto actor = "actor=\"" + label_value(a.actor) + "\"";
    add("iota_actor_mailbox", "gauge", "Messages waiting in the actor's mailbox.",
        "iota_actor_mailbox{" + actor + "} " + std::to_string(a.mailbox));
    for (auto& h : a.handlers) {
      auto labels = "{" + actor + ",message=\"" + label_value(h.message) + "\"}";
      add("iota_actor_messages_received_total", "counter", "Messages received, per message type.",
          "iota_actor_messages_received_total" + labels + " " + std::to_string(h.received));
      add("iota_actor_messages_handled_total", "counter", "Messages handled, per message type.",
          "iota_actor_messages_handled_total" + labels + " " + std::to_string(h.handled));
      add("iota_actor_handling_seconds_total", "counter", "Time spent handling messages.",
          "iota_actor_handling_seconds_total" + labels + " " + number(h.total_ns / 1e9));
      add("iota_actor_handling_seconds_max", "gauge", "Longest handling of one message.",
          "iota_actor_handling_seconds_max" + labels + " " + number(h.max_ns / 1e9));
    }
    for (auto& [name, value] : a.counters) {
      bool gauge = is_gauge(name);
      auto m = metric_name(name) + (gauge ? "" : "_total");
      add(m, gauge ? "gauge" : "counter", "Domain figure reported by the actor.",
          m + "{" + actor + "} " + std::to_string(value));
    }
    for (auto& h : a.histograms) {
      auto m = metric_name(h.name) + "_seconds";
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < h.counts.size(); ++i) {
        cumulative += h.counts[i];
        auto le = i < h.bounds.size() ? number(h.bounds[i]) : std::string{"+Inf"};
        add(m, "histogram", "Latency histogram.",
            m + "_bucket{" + actor + ",le=\"" + le + "\"} " + std::to_string(cumulative));
      }
      add(m, "histogram", "Latency histogram.", m + "_sum{" + actor + "} " + number(h.sum));
      add(m, "histogram", "Latency histogram.", m + "_count{" + actor + "} " + std::to_string(h.count));
    }
  }
  std::string out;
  for (auto& [name, f] : families) {
    out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + f.type + "\n";
    for (auto& s : f.samples)
      out += s + "\n";
  }
  return out;
}

nlohmann::json stats_json(const std::vector<msg::actor_stats>& stats) {
  auto actors = nlohmann::json::array();
  for (auto& a : stats) {
    auto handlers = nlohmann::json::object();
    for (auto& h : a.handlers)
      handlers[h.message] = {{"received", h.received},
                             {"handled", h.handled},
                             {"meanMs", h.handled ? h.total_ns / 1e6 / h.handled : 0.0},
                             {"maxMs", h.max_ns / 1e6}};
    auto counters = nlohmann::json::object();
    for (auto& [k, v] : a.counters)
      counters[k] = v;
    auto latencies = nlohmann::json::object();
    for (auto& h : a.histograms)
      latencies[h.name] = {{"count", h.count}, {"meanMs", h.count ? h.sum * 1e3 / h.count : 0.0}};
    actors.push_back({{"actor", a.actor}, {"mailbox", a.mailbox}, {"handlers", handlers},
                      {"counters", counters}, {"latencies", latencies}});
  }
  return {{"actors", actors}};
}

}  // namespace iota::actors
