// The REST API of the running daemon over real HTTP (real ZooKeeper and mosquitto behind it):
// every route and every error path, the dashboard, /metrics as Prometheus text.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <thread>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "tests/fixtures/daemon_process.hpp"
#include "tests/fixtures/files.hpp"
#include "tests/fixtures/http_client.hpp"
#include "tests/fixtures/ids.hpp"
#include "tests/fixtures/mosquitto_server.hpp"
#include "tests/fixtures/process.hpp"
#include "tests/fixtures/zookeeper_server.hpp"

using namespace iota;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct api_fixture {
  test::zookeeper_server zk;
  test::mosquitto_server broker;
  std::unique_ptr<test::daemon_process> daemon;
  int port = 0;

  api_fixture() {
    test::daemon_options o;
    o.zookeeper = zk.hosts();
    o.mqtt_url = broker.url();
    o.thing_inventory = test::numbered_ids(300, "thing-");
    o.rule_inventory = test::numbered_ids(200000, "rule-");
    o.cors_origins = {"http://console.example"};
    daemon = std::make_unique<test::daemon_process>(o);
    daemon->start();
    port = daemon->http_port();
    REQUIRE(test::wait_until([&] { return call("GET", "/readyz").status == 200; }, 120s));
  }

  test::http_result call(const std::string& method, const std::string& target, const std::string& body = {},
                         std::vector<std::pair<std::string, std::string>> headers = {}) {
    return test::http_request(port, method, target, body, std::move(headers));
  }

  json call_json(const std::string& method, const std::string& target, int expected_status,
                 const std::string& body = {}) {
    auto r = call(method, target, body);
    INFO(method << " " << target << " -> " << r.status << " " << r.body);
    REQUIRE(r.status == expected_status);
    CHECK(r.header("content-type").find("application/json") != std::string::npos);
    auto j = json::parse(r.body, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    return j;
  }
};

// The error body the spec asks for: {"error":"..."} naming what was wrong.
void check_error(const json& j, const std::string& mentions) {
  REQUIRE(j.contains("error"));
  REQUIRE(j["error"].is_string());
  CHECK(j["error"].get<std::string>().find(mentions) != std::string::npos);
}

}  // namespace

TEST_CASE_METHOD(api_fixture, "the REST API answers every route and error path", "[e2e][http]") {
  CHECK(call_json("GET", "/healthz", 200)["status"] == "ok");
  CHECK(call_json("GET", "/readyz", 200)["ready"] == true);

  auto empty = call_json("GET", "/v1/api/orchestrations/Thing", 200);
  CHECK(empty["resource"] == "Thing");
  CHECK(empty["orchestrating"] == false);
  CHECK(empty["instances"].empty());
  check_error(call_json("GET", "/v1/api/orchestrations/Nope", 404), "Nope");
  // Bytes that are not UTF-8, quoted back in errors: replaced, never an exception in the API
  // actor (which would take the API down), as the fuzzer found.
  check_error(call_json("GET", "/v1/api/orchestrations/%FF%FE", 404), "unknown resource");
  check_error(call_json("GET", "/v1/api/events?kind=%FF", 400), "kind");
  check_error(call_json("GET", "/v1/api/events?%C3=1", 400), "unknown filter");
  check_error(call_json("POST", "/v1/api/orchestrations/Thing/instances/%FF/drain", 400), "instance id");
  CHECK(call_json("GET", "/v1/api/orchestrations/Thing", 200)["resource"] == "Thing");  // still answering

  // Validation: nothing is written.
  check_error(call_json("POST", "/v1/api/orchestrations/Thing/orchestrate", 400, R"({"maxInstances":2})"),
              "maxInstances");
  check_error(call_json("POST", "/v1/api/orchestrations/Thing/orchestrate", 400, R"({"resourcePerInstance":"x"})"),
              "resourcePerInstance");
  check_error(call_json("POST", "/v1/api/orchestrations/Thing/orchestrate", 400, "{not json"), "malformed JSON");
  auto wrong_type = call("POST", "/v1/api/orchestrations/Thing/orchestrate", "maxInstances=5",
                         {{"Content-Type", "application/x-www-form-urlencoded"}});
  CHECK(wrong_type.status == 415);
  check_error(call_json("POST", "/v1/api/orchestrations/Nope/orchestrate", 404), "Nope");
  check_error(call_json("POST", "/v1/api/orchestrations/Thing/orchestrate", 422,
                        R"({"maxInstances":3,"resourcePerInstance":10,"initInstances":1})"),
              "require instances more than the max: 31/3");
  CHECK(call_json("GET", "/v1/api/orchestrations/Thing", 200)["instances"].empty());

  // Dry run: the plan, nothing written.
  auto plan = call_json("POST", "/v1/api/orchestrations/Thing/orchestrate?dryRun=true", 200);
  CHECK(plan["instances"] == 10);
  CHECK(plan["resourcePerInstance"] == 31);  // 300/5000+1 < 10: 10 instances of 300/10+1
  CHECK(plan["placements"] == 300);
  CHECK(call_json("GET", "/v1/api/orchestrations/Thing", 200)["instances"].empty());
  check_error(call_json("POST", "/v1/api/orchestrations/Thing/orchestrate?dryRun=maybe", 400), "dryRun");

  // The web dashboard's call: POST without a body.
  auto done = call_json("POST", "/v1/api/orchestrations/Thing/orchestrate", 200);
  CHECK(done["resource"] == "Thing");
  CHECK(done["orchestrateSuccess"] == true);
  CHECK(done["resources"] == 300);
  REQUIRE(done["instances"].size() == 10);
  auto& first = done["instances"][0];
  CHECK(first["id"] == "0");
  CHECK(first["used"] == 30);
  CHECK(first["count"] == 31);
  CHECK(first["reloadTimes"] == 0);
  CHECK(first["pod"]["name"] == "iota-dac-0");

  // Which instance runs resource X.
  CHECK(call_json("GET", "/v1/api/orchestrations/Thing/thing-0/instances", 200)["runIn"] == "0");
  CHECK(call_json("GET", "/v1/api/orchestrations/Thing/thing-299/instances", 200)["runIn"] == "9");
  check_error(call_json("GET", "/v1/api/orchestrations/Thing/no-such-thing/instances", 404), "no-such-thing");

  // Drain: refused while the others lack room (9 x 1 free for 30), fine once they have it.
  check_error(call_json("POST", "/v1/api/orchestrations/Thing/instances/3/drain", 409),
              "instance 3 holds 30 resources but the other instances have room for 9");
  auto resized = call_json("POST", "/v1/api/orchestrations/Thing/orchestrate", 200,
                           R"({"resourcePerInstance":100,"initInstances":1})");
  CHECK(resized["instances"].size() == 4);  // 300/100+1, sticky: the 4 best kept
  CHECK(resized["instances"][3]["id"] == "3");
  auto drained = call_json("POST", "/v1/api/orchestrations/Thing/instances/3/drain", 200);
  CHECK(drained["instances"].size() == 3);
  CHECK(drained["resources"] == 300);
  for (auto& i : drained["instances"])
    CHECK(i["used"] == 100);
  check_error(call_json("POST", "/v1/api/orchestrations/Thing/instances/3/drain", 404), "instance 3");
  check_error(call_json("POST", "/v1/api/orchestrations/Thing/instances/abc/drain", 400), "abc");

  // Wrong methods and unknown routes.
  CHECK(call("GET", "/v1/api/orchestrations/Thing/orchestrate").status == 405);
  CHECK(call("DELETE", "/v1/api/orchestrations/Thing").status == 405);
  check_error(call_json("GET", "/v1/api/nothing-here", 404), "no such route");
}

TEST_CASE_METHOD(api_fixture, "a second orchestrate while one runs gets 409", "[e2e][http]") {
  auto first = std::async(std::launch::async, [&] {
    return call("POST", "/v1/api/orchestrations/Rule/orchestrate", R"({"resourcePerInstance":4000,"initInstances":1})");
  });
  // 200,000 Rules: long enough to be seen running.
  bool seen = test::wait_until([&] {
    return call_json("GET", "/v1/api/orchestrations/Rule", 200)["orchestrating"] == true;
  }, 60s);
  if (seen) {
    auto second = call_json("POST", "/v1/api/orchestrations/Rule/orchestrate", 409);
    check_error(second, "already running");
  }
  auto r = first.get();
  REQUIRE(r.status == 200);
  auto body = json::parse(r.body);
  CHECK(body["resources"] == 200000);
  CHECK(body["instances"].size() == 51);  // 200000/4000+1
  CHECK(seen);
}

TEST_CASE_METHOD(api_fixture, "stats and Prometheus metrics", "[e2e][http][metrics]") {
  call_json("POST", "/v1/api/orchestrations/Thing/orchestrate", 200);
  // One notify, from the broker until durable: the bridge's histogram counts it.
  test::mqtt_publish(broker.url(), "cm/notify", {R"({"o":"c","t":"Thing","k":{"id":"thing-from-a-notify"}})"});
  CHECK(test::wait_until(
    [&] {
      return call("GET", "/metrics").body.find(R"(iota_notify_durable_duration_seconds_count{actor="mqtt_bridge"} 1)") !=
             std::string::npos;
    },
    60s));
  auto stats = call_json("GET", "/v1/api/stats", 200);
  std::set<std::string> actors;
  for (auto& a : stats["actors"])
    actors.insert(a["actor"].get<std::string>());
  CHECK(actors.count("resource_orchestrator/Thing") == 1);
  CHECK(actors.count("resource_orchestrator/Rule") == 1);
  CHECK(actors.count("mqtt_bridge") == 1);
  CHECK(actors.count("http_api") == 1);

  auto m = call("GET", "/metrics");
  REQUIRE(m.status == 200);
  CHECK(m.header("content-type").find("text/plain") == 0);
  // A small parser of the text exposition format.
  std::regex sample{R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$)"};
  std::regex type_line{R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)"};
  std::map<std::string, std::string> types;
  std::set<std::string> histogram_parts;
  std::size_t samples = 0;
  std::istringstream in{m.body};
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0)
      continue;
    std::smatch match;
    if (line.rfind("# TYPE ", 0) == 0) {
      REQUIRE(std::regex_match(line, match, type_line));
      REQUIRE(types.emplace(match[1], match[2]).second);  // one TYPE per family
      continue;
    }
    INFO(line);
    REQUIRE(std::regex_match(line, match, sample));
    std::string name = match[1];
    std::string family = name;
    for (auto suffix : {"_bucket", "_sum", "_count"})
      if (!types.count(family) && family.size() > std::strlen(suffix) &&
          family.compare(family.size() - std::strlen(suffix), std::strlen(suffix), suffix) == 0)
        family = family.substr(0, family.size() - std::strlen(suffix));
    REQUIRE(types.count(family) == 1);  // declared before its samples
    if (types[family] == "histogram")
      histogram_parts.insert(name.substr(family.size()));
    ++samples;
  }
  CHECK(samples > 20);
  CHECK(types["iota_actor_messages_received_total"] == "counter");
  CHECK(types["iota_resources"] == "gauge");
  CHECK(types["iota_zookeeper_multi_duration_seconds"] == "histogram");
  CHECK(types["iota_notify_durable_duration_seconds"] == "histogram");
  CHECK(types["iota_http_request_duration_seconds"] == "histogram");
  CHECK(histogram_parts == std::set<std::string>{"_bucket", "_sum", "_count"});
  CHECK(m.body.find(R"(iota_zookeeper_multi_duration_seconds_bucket{actor="resource_orchestrator/Thing",le="+Inf"})") !=
        std::string::npos);

  // Prometheus' own linter finds nothing to complain about (Debian package prometheus).
  test::temp_dir dir("iota-promtool");
  std::ofstream(dir.path() + "/metrics.txt") << m.body;
  auto lint = test::run_command({"bash", "-c", "promtool check metrics < \"$0\"", dir.path() + "/metrics.txt"});
  INFO("promtool check metrics: " << lint.output);
  CHECK(lint.exit_code == 0);
  CHECK(lint.output.empty());
}

// Every iota_ metric an expression names, except those matched by a regex (`{__name__=~...}`).
std::set<std::string> metrics_named(const std::string& text) {
  std::set<std::string> out;
  static const std::regex name{R"(iota_[A-Za-z0-9_]+)"};
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator(); ++it) {
    auto end = it->position() + it->length();
    if (end < static_cast<long>(text.size()) && (text[end] == '.' || text[end] == '(' || text[end] == '|'))
      continue;  // part of a regex: iota_dropped_.+_total, iota_reconcile_(created|deleted)_total
    out.insert(it->str());
  }
  return out;
}

TEST_CASE_METHOD(api_fixture, "deploy/monitoring: the alert rules pass promtool and their unit tests, and the rules "
                              "and the Grafana dashboard name only metrics the daemon serves",
                 "[e2e][http][monitoring]") {
  const std::string dir = std::string(IOTA_SOURCE_DIR) + "/deploy/monitoring";
  auto check = test::run_command({"promtool", "check", "rules", dir + "/prometheus-rules.yml"});
  INFO("promtool check rules: " << check.output);
  CHECK(check.exit_code == 0);
  CHECK(check.output.find("SUCCESS: 6 rules found") != std::string::npos);
  auto unit = test::run_command({"bash", "-c", "cd \"$0\" && promtool test rules prometheus-rules.test.yml", dir});
  INFO("promtool test rules: " << unit.output);
  CHECK(unit.exit_code == 0);
  CHECK(unit.output.find("SUCCESS") != std::string::npos);

  // The dashboard's queries are valid PromQL: promtool checks them as recording rules.
  auto dashboard = json::parse(test::read_file(dir + "/grafana-dashboard.json"));
  CHECK(dashboard["uid"] == "iota-orchestrator");
  std::string exprs, recording = "groups:\n  - name: dashboard\n    rules:\n";
  std::size_t queries = 0;
  for (auto& panel : dashboard["panels"])
    for (auto& target : panel["targets"]) {
      auto e = target["expr"].get<std::string>();
      exprs += e + "\n";
      recording += "      - record: dashboard:query" + std::to_string(++queries) + "\n        expr: " + json(e).dump() + "\n";
    }
  CHECK(queries >= 12);
  test::temp_dir tmp("iota-dashboard");
  std::ofstream(tmp.path() + "/dashboard-queries.yml") << recording;
  auto parsed = test::run_command({"promtool", "check", "rules", tmp.path() + "/dashboard-queries.yml"});
  INFO("the dashboard's queries: " << parsed.output);
  CHECK(parsed.exit_code == 0);

  // Every metric named is one the daemon serves (drive one notify and one orchestrate first, so
  // the write path's series exist); counters that start with their first event are named by
  // the code that counts them.
  REQUIRE(call("POST", "/v1/api/orchestrations/Thing/orchestrate").status == 200);
  test::mqtt_publish(broker.url(), "cm/notify", {R"({"o":"c","t":"Thing","k":{"id":"m-1"},"instance":{"id":"m-1"}})"});
  REQUIRE(test::wait_until([&] { return call("GET", "/v1/api/orchestrations/Thing/m-1/instances").status == 200; }, 60s));
  auto live = call("GET", "/metrics").body;
  const std::set<std::string> on_first_event = {"iota_restarts_heartbeat_total", "iota_restarts_phase_total",
                                                "iota_restarts_missing_total"};
  auto named = metrics_named(exprs + test::read_file(dir + "/prometheus-rules.yml"));
  CHECK(named.size() >= 10);
  for (auto& m : named) {
    INFO(m);
    if (on_first_event.count(m))
      CHECK(test::read_file(std::string(IOTA_SOURCE_DIR) + "/actors/instance_fleet.cpp").find("\"restarts_\"") !=
            std::string::npos);
    else
      CHECK(live.find("\n" + m + "{") != std::string::npos);
  }
}

TEST_CASE_METHOD(api_fixture, "dashboard, static files, CORS and bad requests", "[e2e][http]") {
  auto page = call("GET", "/");
  CHECK(page.status == 200);
  CHECK(page.header("content-type").find("text/html") == 0);
  CHECK(page.body.find("iota-orchestrator") != std::string::npos);
  CHECK(page.body.find("N/A") != std::string::npos);  // the lookup's answer on error
  CHECK(page.body.find("http://") == std::string::npos);  // no CDN
  for (auto bad : {"/../etc/passwd", "/%2e%2e/etc/passwd", "/..%2fetc%2fpasswd", "/nope.html"})
    CHECK(call("GET", bad).status == 404);

  auto allowed = call("GET", "/v1/api/orchestrations/Thing", {}, {{"Origin", "http://console.example"}});
  CHECK(allowed.header("access-control-allow-origin") == "http://console.example");
  CHECK(allowed.header("access-control-allow-credentials") == "true");
  auto refused = call("GET", "/v1/api/orchestrations/Thing", {}, {{"Origin", "http://evil.example"}});
  CHECK(refused.header("access-control-allow-origin").empty());
  auto preflight = call("OPTIONS", "/v1/api/orchestrations/Thing/orchestrate", {},
                        {{"Origin", "http://console.example"}, {"Access-Control-Request-Method", "POST"},
                         {"Access-Control-Request-Headers", "content-type"}});
  CHECK(preflight.status == 204);
  CHECK(preflight.header("access-control-allow-origin") == "http://console.example");

  auto huge = call("POST", "/v1/api/orchestrations/Thing/orchestrate", std::string(100 * 1024, ' '));
  CHECK(huge.status == 413);
  CHECK(call("GET", "/healthz").status == 200);  // still serving
}

TEST_CASE_METHOD(api_fixture, "1,000 requests from 50 concurrent clients are all answered", "[e2e][http][load]") {
  call_json("POST", "/v1/api/orchestrations/Thing/orchestrate", 200);
  std::atomic<int> ok{0}, wrong{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 50; ++c)
    clients.emplace_back([&, c] {
      for (int i = 0; i < 20; ++i) {
        auto target = (i % 4 == 0) ? "/v1/api/orchestrations/Thing"
                      : (i % 4 == 1) ? "/v1/api/orchestrations/Thing/thing-" + std::to_string((c + i) % 300) + "/instances"
                      : (i % 4 == 2) ? std::string{"/healthz"}
                                     : std::string{"/v1/api/orchestrations/Thing/nope/instances"};
        auto r = call("GET", target);
        bool good = (i % 4 == 3) ? r.status == 404 : r.status == 200;
        (good ? ok : wrong)++;
      }
    });
  for (auto& t : clients)
    t.join();
  CHECK(ok == 1000);
  CHECK(wrong == 0);
  CHECK(call("GET", "/healthz").status == 200);
}

TEST_CASE("a write posted the moment /healthz answers waits for the election and load: 200, not 503",
          "[e2e][http][startup]") {
  test::zookeeper_server zk;
  test::mosquitto_server broker;
  test::daemon_process daemon(test::small_daemon(zk.hosts(), broker.url(), 40, 30));
  for (int round = 0; round < 2; ++round) {  // a fresh daemon, then one that finds state
    INFO("round " << round);
    daemon.start_serving();  // returns as soon as /healthz answers
    auto orchestrate = test::http_request(daemon.http_port(), "POST", "/v1/api/orchestrations/Thing/orchestrate", "{}");
    auto reconcile = test::http_request(daemon.http_port(), "POST", "/v1/api/orchestrations/Rule/reconcile", "{}");
    INFO("orchestrate: " << orchestrate.status << " " << orchestrate.body);
    INFO("reconcile: " << reconcile.status << " " << reconcile.body);
    CHECK(orchestrate.status == 200);
    auto j = json::parse(orchestrate.body, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j["resources"] == 40);
    CHECK(j["instances"].size() == 2);
    CHECK(reconcile.status == 200);
    daemon.stop();
  }
}

namespace {

// A small JSON Schema check for the OpenAPI 3.0 subset the document uses: $ref, type,
// nullable, required, properties, additionalProperties, items, enum, oneOf, minimum, maxItems.
// Returns "" or where the value breaks the schema.
std::string schema_mismatch(const json& doc, const json& schema, const json& v, const std::string& at) {
  if (schema.contains("$ref")) {
    auto name = schema["$ref"].get<std::string>().substr(std::string("#/components/schemas/").size());
    return schema_mismatch(doc, doc["components"]["schemas"][name], v, at);
  }
  if (schema.contains("oneOf")) {
    int matched = 0;
    for (auto& s : schema["oneOf"])
      matched += schema_mismatch(doc, s, v, at).empty() ? 1 : 0;
    return matched >= 1 ? "" : at + ": matches none of oneOf";
  }
  if (v.is_null())
    return schema.value("nullable", false) ? "" : at + ": null";
  auto type = schema.value("type", std::string{});
  bool ok = type.empty() || (type == "object" && v.is_object()) || (type == "array" && v.is_array()) ||
            (type == "string" && v.is_string()) || (type == "boolean" && v.is_boolean()) ||
            (type == "integer" && v.is_number_integer()) || (type == "number" && v.is_number());
  if (!ok)
    return at + ": not " + type + " but " + v.dump().substr(0, 80);
  if (schema.contains("enum") && std::find(schema["enum"].begin(), schema["enum"].end(), v) == schema["enum"].end())
    return at + ": " + v.dump() + " not in the enum";
  if (schema.contains("minimum") && v.is_number() && v.get<double>() < schema["minimum"].get<double>())
    return at + ": below the minimum";
  if (v.is_object()) {
    for (auto& r : schema.value("required", json::array()))
      if (!v.contains(r.get<std::string>()))
        return at + ": missing " + r.get<std::string>();
    for (auto& [k, sub] : v.items()) {
      if (schema.contains("properties") && schema["properties"].contains(k)) {
        if (auto m = schema_mismatch(doc, schema["properties"][k], sub, at + "." + k); !m.empty())
          return m;
      } else if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
        if (auto m = schema_mismatch(doc, schema["additionalProperties"], sub, at + "." + k); !m.empty())
          return m;
      }
    }
  }
  if (v.is_array()) {
    if (schema.contains("maxItems") && v.size() > schema["maxItems"].get<std::size_t>())
      return at + ": more than maxItems";
    if (schema.contains("items"))
      for (std::size_t i = 0; i < v.size(); ++i)
        if (auto m = schema_mismatch(doc, schema["items"], v[i], at + "[" + std::to_string(i) + "]"); !m.empty())
          return m;
  }
  return "";
}

}  // namespace

TEST_CASE_METHOD(api_fixture, "GET /v1/api/openapi.json describes every route the daemon answers, and live answers "
                              "match its schemas",
                 "[e2e][http][openapi]") {
  auto r = call("GET", "/v1/api/openapi.json");
  REQUIRE(r.status == 200);
  CHECK(r.header("content-type").find("application/json") == 0);
  auto doc = json::parse(r.body);
  CHECK(doc["openapi"].get<std::string>().rfind("3.", 0) == 0);

  REQUIRE(call("POST", "/v1/api/orchestrations/Thing/orchestrate").status == 200);
  // One probe per route and outcome, as a client would call it: the documented path template,
  // the method, the concrete target, and an optional body.
  struct probe {
    std::string path, method, target, body;
  };
  const std::vector<probe> probes = {
    {"/healthz", "get", "/healthz", ""},
    {"/readyz", "get", "/readyz", ""},
    {"/metrics", "get", "/metrics", ""},
    {"/v1/api/openapi.json", "get", "/v1/api/openapi.json", ""},
    {"/v1/api/stats", "get", "/v1/api/stats", ""},
    {"/v1/api/events", "get", "/v1/api/events?resource=Thing&limit=5", ""},
    {"/v1/api/events", "get", "/v1/api/events?limit=0", ""},
    {"/v1/api/events", "get", "/v1/api/events?resource=Nope", ""},
    {"/v1/api/orchestrations", "get", "/v1/api/orchestrations", ""},
    {"/v1/api/orchestrations/{resource}", "get", "/v1/api/orchestrations/Thing", ""},
    {"/v1/api/orchestrations/{resource}", "get", "/v1/api/orchestrations/Nope", ""},
    {"/v1/api/orchestrations/{resource}/orchestrate", "post", "/v1/api/orchestrations/Thing/orchestrate", "{}"},
    {"/v1/api/orchestrations/{resource}/orchestrate", "post", "/v1/api/orchestrations/Thing/orchestrate?dryRun=true",
     R"({"maxInstances":20})"},
    {"/v1/api/orchestrations/{resource}/orchestrate", "post", "/v1/api/orchestrations/Thing/orchestrate", "{nope"},
    {"/v1/api/orchestrations/{resource}/orchestrate", "post", "/v1/api/orchestrations/Thing/orchestrate",
     R"({"maxInstances":-1})"},
    {"/v1/api/orchestrations/{resource}/reconcile", "post", "/v1/api/orchestrations/Thing/reconcile", ""},
    {"/v1/api/orchestrations/{resource}/{id}/instances", "get", "/v1/api/orchestrations/Thing/thing-7/instances", ""},
    {"/v1/api/orchestrations/{resource}/{id}/instances", "get", "/v1/api/orchestrations/Thing/nope/instances", ""},
    {"/v1/api/orchestrations/{resource}/instances/{instance}/drain", "post",
     "/v1/api/orchestrations/Thing/instances/x/drain", ""},
    {"/v1/api/orchestrations/{resource}/instances/{instance}/drain", "post",
     "/v1/api/orchestrations/Thing/instances/9/drain", ""},
  };
  std::set<std::string> probed;
  for (auto& p : probes) {
    INFO(p.method << " " << p.target << " " << p.body);
    probed.insert(p.path + " " + p.method);
    REQUIRE(doc["paths"].contains(p.path));
    REQUIRE(doc["paths"][p.path].contains(p.method));
    auto& operation = doc["paths"][p.path][p.method];
    std::string method = p.method == "get" ? "GET" : "POST";
    auto answer = p.body.empty() ? call(method, p.target)
                                 : call(method, p.target, p.body, {{"Content-Type", "application/json"}});
    INFO("answered " << answer.status << " " << answer.body.substr(0, 300));
    auto status = std::to_string(answer.status);
    REQUIRE(operation["responses"].contains(status));  // every status it answers is documented
    auto& response = operation["responses"][status];
    if (!response.contains("content"))
      continue;
    auto content = response["content"].begin();
    CHECK(answer.header("content-type").find(content.key()) == 0);
    if (content.key() != "application/json")
      continue;
    auto body = json::parse(answer.body);
    CHECK(schema_mismatch(doc, content.value()["schema"], body, "body") == "");
  }
  // Every documented operation was probed: the document holds no route the daemon lacks.
  for (auto& [path, item] : doc["paths"].items())
    for (auto& [method, _] : item.items())
      if (method != "parameters")
        CHECK(probed.count(path + " " + method) == 1);
  // And a route the document lacks is not served.
  CHECK(call("GET", "/v1/api/nothing").status == 404);
}
