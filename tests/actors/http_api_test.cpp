// Deterministic tests of the REST API actor against a fake orchestrator and a fake fleet:
// routes, the merge of the orchestration with pod health and leadership, refusals mapped to
// HTTP statuses, bad input refused before any actor sees it, and an orchestrator that never
// answers turning into 503 at the request timeout.
#include <catch2/catch.hpp>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/http_api.hpp"
#include "actors/stats.hpp"
#include "fakes/deterministic_system.hpp"
#include "messages/errors.hpp"

using namespace iota;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// What the fake orchestrator was asked, and how it answers.
struct orchestrator_script {
  std::vector<std::string> calls;  // "status", "orchestrate 3/100/7", "lookup a", ...
  bool busy = false;               // orchestrate -> refusal busy (409)
  bool silent = false;             // status never answers
  std::map<std::string, model::instance_id> placed{{"a", 1}, {"b", 0}};
};

model::orchestration_status two_instances() {
  model::orchestration_status s;
  s.resource = "Thing";
  s.ready = true;
  s.orchestrate_success = true;
  s.resources = 3;
  s.instances = {{0, 2, 5000, 4}, {1, 1, 5000, 9}};
  return s;
}

struct fake_orchestrator_state {
  std::shared_ptr<orchestrator_script> script;
  std::vector<caf::typed_response_promise<model::orchestration_status>> unanswered;
};

msg::orchestrator_actor::behavior_type
fake_orchestrator(msg::orchestrator_actor::stateful_pointer<fake_orchestrator_state> self,
                  std::shared_ptr<orchestrator_script> script) {
  self->state.script = script;
  return {
    [=](msg::apply_atom, const msg::resource_event&) { return msg::event_ack{}; },
    [=](msg::apply_atom, const msg::event_batch&) { return msg::event_ack{}; },
    [=](msg::orchestrate_atom, const model::orchestrate_request& r) -> caf::result<model::orchestration_status> {
      script->calls.push_back("orchestrate " + std::to_string(r.options.init_instances) + "/" +
                              std::to_string(r.options.max_instances) + "/" +
                              std::to_string(r.options.resource_per_instance));
      if (script->busy)
        return msg::make_refusal(msg::refusal::busy, "an orchestrate is already running");
      return two_instances();
    },
    [=](msg::plan_atom, const model::orchestrate_request&) -> std::string {
      script->calls.push_back("plan");
      return R"({"plan":true})";
    },
    [=](msg::drain_atom, model::instance_id id) -> caf::result<model::orchestration_status> {
      script->calls.push_back("drain " + std::to_string(id));
      return msg::make_refusal(msg::refusal::no_room, "the other instances cannot take its ids");
    },
    [=](msg::lookup_atom, const std::string& id) -> caf::result<model::instance_id> {
      script->calls.push_back("lookup " + id);
      auto it = script->placed.find(id);
      if (it == script->placed.end())
        return msg::make_refusal(msg::refusal::not_found, "unknown resource id " + id);
      return it->second;
    },
    [=](msg::why_atom, const std::string& id) -> caf::result<model::instance_id, std::uint64_t> {
      script->calls.push_back("lookup " + id);
      auto it = script->placed.find(id);
      if (it == script->placed.end())
        return msg::make_refusal(msg::refusal::not_found, "unknown resource id " + id);
      return {it->second, std::uint64_t{0}};
    },
    [=](msg::status_atom) -> caf::result<model::orchestration_status> {
      script->calls.push_back("status");
      if (script->silent) {
        auto rp = self->make_response_promise<model::orchestration_status>();
        self->state.unanswered.push_back(rp);
        return rp;
      }
      return two_instances();
    },
    [=](msg::stats_atom) { return msg::actor_stats{}; },
    [=](msg::register_atom, const caf::actor&) {},
    [=](msg::leader_atom, const msg::leadership&) {},
    [=](msg::leader_atom) {
      msg::leadership l;
      l.leader = true;
      l.elected = true;
      l.leader_data = R"({"host":"h","pid":7})";
      return l;
    },
    [=](msg::reconcile_atom) -> msg::reconcile_report {
      script->calls.push_back("reconcile");
      msg::reconcile_report r;
      r.inventory = 3;
      r.created = 1;
      return r;
    },
  };
}

// A fleet that knows one healthy instance (0) and nothing of instance 1.
msg::fleet_actor::behavior_type fake_fleet() {
  return {
    [](msg::instance_atom, const std::string&, msg::instance_change, int) {},
    [](msg::heartbeat_atom, int, std::int64_t) {},
    [](msg::phase_atom, int, model::pod_phase, const std::string&) {},
    [](msg::pod_check_atom) {},
    [](msg::check_atom) { return std::vector<msg::check_result>{}; },
    [](msg::restart_atom, int, msg::restart_cause) {},
    [](msg::maintenance_atom, bool) {},
    [](msg::status_atom) {
      msg::instance_health h;
      h.id = 0;
      h.phase = "Running";
      h.restarts = 2;
      h.restarts_by_cause = {1, 0, 1};
      h.last_heartbeat_ms = 1767225600123;  // 2026-01-01T00:00:00.123Z
      return std::vector<msg::instance_health>{h};
    },
    [](msg::stats_atom) { return msg::actor_stats{}; },
  };
}

struct fixture : test::deterministic_system {
  std::shared_ptr<orchestrator_script> script = std::make_shared<orchestrator_script>();
  msg::orchestrator_actor orchestrator = sys.spawn(fake_orchestrator, script);
  msg::fleet_actor fleet = sys.spawn(fake_fleet);
  msg::stats_actor stats = actors::spawn_stats(sys);
  msg::http_api_actor api;

  fixture() {
    actors::http_api_settings s;
    actors::api_resource thing;
    thing.orchestrator = orchestrator;
    thing.instance_name = "iota-dac";
    thing.options = model::resource_options{};
    thing.fleet = fleet;
    s.resources["Thing"] = thing;
    s.stats = stats;
    s.request_timeout = 2s;
    api = actors::spawn_http_api(sys, s);
    sched.run();
  }
  ~fixture() {
    for (auto a : {caf::actor_cast<caf::actor>(orchestrator), caf::actor_cast<caf::actor>(fleet),
                   caf::actor_cast<caf::actor>(stats), caf::actor_cast<caf::actor>(api)})
      self->send_exit(a, caf::exit_reason::user_shutdown);
    sched.run();
  }

  // Sends one request and runs the actors until nothing is left to do; the answer, if any.
  std::optional<model::http_response> call(std::string method, std::string path, std::string body = {},
                                           std::string content_type = "application/json") {
    auto answer = std::make_shared<std::optional<model::http_response>>();
    msg::http_call c;
    c.request.method = std::move(method);
    c.request.target = path;
    auto q = path.find('?');
    c.request.path = path.substr(0, q);
    if (q != std::string::npos) {
      auto kv = path.substr(q + 1);
      auto eq = kv.find('=');
      c.request.query[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
    }
    c.request.body = std::move(body);
    if (!c.request.body.empty())
      c.request.headers.emplace_back("content-type", content_type);
    c.respond = [answer](model::http_response r) { *answer = std::move(r); };
    self->send(api, msg::http_atom::value, std::move(c));
    sched.run();
    return *answer;
  }

  static json body_of(const model::http_response& r) { return json::parse(r.body, nullptr, false); }
};

}  // namespace

TEST_CASE_METHOD(fixture, "http_api: the orchestration merges pod health and the leader", "[http_api]") {
  auto r = call("GET", "/v1/api/orchestrations/Thing");
  REQUIRE(r);
  CHECK(r->status == 200);
  auto j = body_of(*r);
  REQUIRE(j.is_object());
  CHECK(j["resource"] == "Thing");
  CHECK(j["resources"] == 3);
  REQUIRE(j["instances"].size() == 2);
  auto& first = j["instances"][0];
  CHECK(first["id"] == "0");
  CHECK(first["used"] == 2);
  CHECK(first["count"] == 5000);
  CHECK(first["reloadTimes"] == 4);
  CHECK(first["pod"]["name"] == "iota-dac-0");
  CHECK(first["pod"]["phase"] == "Running");
  CHECK(first["pod"]["restarts"] == 2);
  CHECK(first["pod"]["restartsByCause"] == json({{"heartbeat", 1}, {"phase", 0}, {"missing", 1}}));
  CHECK(first["lastHeartbeat"] == "2026-01-01T00:00:00.123Z");
  auto& second = j["instances"][1];  // the fleet knows nothing of it
  CHECK(second["pod"]["phase"] == "Unknown");
  CHECK(second["lastHeartbeat"].is_null());
  CHECK(j["leader"]["self"] == true);
  CHECK(j["leader"]["elected"] == true);
  CHECK(j["leader"]["host"] == "h");
}

TEST_CASE_METHOD(fixture, "http_api: lookup answers runIn, and 404 with an error for an unknown id", "[http_api]") {
  auto r = call("GET", "/v1/api/orchestrations/Thing/a/instances");
  REQUIRE(r);
  CHECK(r->status == 200);
  // No history here (no decision log): the runIn the seed answers, and an empty history.
  CHECK(body_of(*r) == json({{"runIn", "1"}, {"history", json::array()}}));
  auto missing = call("GET", "/v1/api/orchestrations/Thing/zz/instances");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(body_of(*missing)["error"] == "unknown resource id zz");
  CHECK(script->calls == std::vector<std::string>{"lookup a", "lookup zz"});
}

TEST_CASE_METHOD(fixture, "http_api: orchestrate passes the options, and a busy orchestrator is 409", "[http_api]") {
  auto r = call("POST", "/v1/api/orchestrations/Thing/orchestrate", R"({"maxInstances":50,"resourcePerInstance":7})");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(body_of(*r)["instances"].size() == 2);
  script->busy = true;
  auto busy = call("POST", "/v1/api/orchestrations/Thing/orchestrate", "{}");
  REQUIRE(busy);
  CHECK(busy->status == 409);
  CHECK(body_of(*busy)["error"] == "an orchestrate is already running");
  model::resource_options defaults;
  CHECK(script->calls == std::vector<std::string>{
                           "orchestrate " + std::to_string(defaults.init_instances) + "/50/7",
                           "orchestrate " + std::to_string(defaults.init_instances) + "/" +
                             std::to_string(defaults.max_instances) + "/" +
                             std::to_string(defaults.resource_per_instance)});
}

TEST_CASE_METHOD(fixture, "http_api: bad input is refused before the orchestrator sees it", "[http_api]") {
  auto malformed = call("POST", "/v1/api/orchestrations/Thing/orchestrate", "{not json");
  REQUIRE(malformed);
  CHECK(malformed->status == 400);
  auto range = call("POST", "/v1/api/orchestrations/Thing/orchestrate", R"({"maxInstances":1})");
  REQUIRE(range);
  CHECK(range->status == 400);
  CHECK(body_of(*range)["error"].get<std::string>().find("maxInstances") != std::string::npos);
  auto instance = call("POST", "/v1/api/orchestrations/Thing/instances/x1/drain");
  REQUIRE(instance);
  CHECK(instance->status == 400);
  auto unknown = call("GET", "/v1/api/orchestrations/Nope");
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
  CHECK(body_of(*unknown)["error"] == R"(unknown resource "Nope")");
  auto method = call("DELETE", "/v1/api/orchestrations/Thing");
  REQUIRE(method);
  CHECK(method->status == 405);
  CHECK(method->headers == std::vector<std::pair<std::string, std::string>>{{"Allow", "GET"}});
  auto route = call("GET", "/v2/anything");
  REQUIRE(route);
  CHECK(route->status == 404);
  CHECK(script->calls.empty());
}

TEST_CASE_METHOD(fixture, "http_api: drain refusals, reconcile and dry runs reach the orchestrator", "[http_api]") {
  auto drain = call("POST", "/v1/api/orchestrations/Thing/instances/1/drain");
  REQUIRE(drain);
  CHECK(drain->status == 409);
  auto rec = call("POST", "/v1/api/orchestrations/Thing/reconcile", "{}");
  REQUIRE(rec);
  CHECK(rec->status == 200);
  CHECK(body_of(*rec) ==
        json({{"resource", "Thing"}, {"skipped", false}, {"inventory", 3}, {"created", 1}, {"deleted", 0}}));
  auto plan = call("POST", "/v1/api/orchestrations/Thing/orchestrate?dryRun=true", "{}");
  REQUIRE(plan);
  CHECK(plan->status == 200);
  CHECK(plan->body == R"({"plan":true})");
  CHECK(script->calls == std::vector<std::string>{"drain 1", "reconcile", "plan"});
}

TEST_CASE_METHOD(fixture, "http_api: an orchestrator that never answers is a 503 at the request timeout", "[http_api]") {
  script->silent = true;
  auto r = call("GET", "/v1/api/orchestrations/Thing");
  CHECK_FALSE(r);  // still waiting
  auto answer = std::make_shared<std::optional<model::http_response>>();
  msg::http_call c;
  c.request.method = "GET";
  c.request.path = c.request.target = "/readyz";
  c.respond = [answer](model::http_response x) { *answer = std::move(x); };
  self->send(api, msg::http_atom::value, std::move(c));
  sched.run();
  CHECK_FALSE(*answer);
  sched.trigger_timeouts();
  sched.run();
  REQUIRE(*answer);
  CHECK((*answer)->status == 503);
  CHECK(body_of(**answer) == json({{"ready", false}, {"resources", {{"Thing", false}}}}));
}

TEST_CASE_METHOD(fixture, "http_api: healthz answers without asking any actor, and requests are counted", "[http_api]") {
  auto r = call("GET", "/healthz");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(body_of(*r) == json({{"status", "ok"}}));
  CHECK(script->calls.empty());
  CHECK(stats_counter(api, "requests") == 1);
}
