#include "actors/http_api.hpp"

#include "actors/decision_log.hpp"

#include <ctime>

#include <caf/actor_system.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/metrics.hpp"
#include "actors/probe.hpp"
#include "io/log.hpp"
#include "io/static_files.hpp"
#include "messages/errors.hpp"
#include "model/bearer_auth.hpp"
#include "model/decision_history.hpp"
#include "model/rest_input.hpp"
#include "model/status.hpp"
#include "model/text.hpp"
#include "model/zk_layout.hpp"

namespace iota::actors {

namespace {

using nlohmann::json;

struct api_state {
  http_api_settings cfg;
  actor_probe probe{"http_api"};
  static inline const char* name = "http_api";
};

using self_ptr = msg::http_api_actor::stateful_pointer<api_state>;

io::http_response json_response(int status, const json& body) {
  io::http_response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

// How a refusal or a failed request reads over HTTP.
io::http_response error_response(const caf::error& e) {
  if (e.category() == msg::refusal_category) {
    int status = 500;
    switch (static_cast<msg::refusal>(e.code())) {
      case msg::refusal::busy: status = 409; break;
      case msg::refusal::invalid_request: status = 400; break;
      case msg::refusal::not_found: status = 404; break;
      case msg::refusal::unprocessable: status = 422; break;
      case msg::refusal::unavailable: status = 503; break;
      case msg::refusal::no_room: status = 409; break;
      case msg::refusal::not_leader: status = 503; break;
    }
    return io::json_error(status, msg::refusal_text(e));
  }
  if (e == caf::sec::request_timeout)
    return io::json_error(503, "timed out waiting for the orchestrator");
  return io::json_error(503, "orchestrator unavailable: " + caf::to_string(e));
}

using health_map = std::map<int, msg::instance_health>;

json instance_json(const model::instance_status& i, const std::string& instance_name, const health_map& health) {
  auto h = health.find(i.id);
  json pod = {{"name", instance_name + "-" + std::to_string(i.id)},
              {"phase", h == health.end() ? "Unknown" : h->second.phase},
              {"restarts", h == health.end() ? 0u : h->second.restarts}};
  if (h != health.end())
    pod["restartsByCause"] = {{"heartbeat", h->second.restarts_by_cause[0]},
                              {"phase", h->second.restarts_by_cause[1]},
                              {"missing", h->second.restarts_by_cause[2]}};
  json last = nullptr;
  if (h != health.end() && h->second.last_heartbeat_ms > 0)
    last = model::iso8601_ms(h->second.last_heartbeat_ms);
  return {{"id", std::to_string(i.id)},
          {"used", i.used},
          {"count", i.count},
          {"reloadTimes", i.reload_times},
          {"pod", pod},
          {"lastHeartbeat", last}};
}

json status_json(const model::orchestration_status& s, const std::string& instance_name,
                 const health_map& health = {}) {
  auto j = model::to_json(s);
  auto instances = json::array();
  bool maintenance = false;
  for (auto& i : s.instances)
    instances.push_back(instance_json(i, instance_name, health));
  for (auto& [_, h] : health)
    maintenance = maintenance || h.maintenance;
  j["instances"] = std::move(instances);
  j["maintenance"] = maintenance;
  return j;
}

// The orchestration merged with what the supervisors know of each instance's pod.
void respond_status(self_ptr self, const api_resource& res, model::orchestration_status s,
                    const io::http_responder& respond) {
  auto instance_name = res.instance_name;
  if (!res.fleet) {
    respond(json_response(200, status_json(s, instance_name)));
    return;
  }
  self->request(res.fleet, std::chrono::seconds{5}, msg::status_atom::value)
    .then(
      [respond, instance_name, s](std::vector<msg::instance_health>& hs) {
        health_map m;
        for (auto& h : hs)
          m.emplace(h.id, h);
        respond(json_response(200, status_json(s, instance_name, m)));
      },
      [respond, instance_name, s](caf::error&) { respond(json_response(200, status_json(s, instance_name))); });
}

// HA (SPEC 10): who leads the resource type, added to GET /:resource as "leader".
json leader_json(const msg::leadership& l) {
  auto j = json::parse(l.leader_data, nullptr, false);
  if (!j.is_object())
    j = json::object();
  j["self"] = l.leader;
  j["elected"] = l.elected;
  return j;
}

void respond_status_with_leader(self_ptr self, const api_resource& res, model::orchestration_status s,
                                const io::http_responder& respond) {
  self->request(res.orchestrator, self->state.cfg.request_timeout, msg::leader_atom::value)
    .then(
      [self, res, s, respond](msg::leadership& l) {
        auto leader = leader_json(l);
        io::http_responder with_leader = [respond, leader](io::http_response r) {
          if (r.status == 200) {
            auto j = json::parse(r.body, nullptr, false);
            if (j.is_object()) {
              j["leader"] = leader;
              r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
            }
          }
          respond(std::move(r));
        };
        respond_status(self, res, s, with_leader);
      },
      [self, res, s, respond](caf::error&) { respond_status(self, res, s, respond); });
}

io::http_response method_not_allowed(const char* allowed) {
  auto r = io::json_error(405, std::string{"method not allowed; use "} + allowed);
  r.headers.emplace_back("Allow", allowed);
  return r;
}

void orchestrate(self_ptr self, const api_resource& res, const io::http_request& req, const io::http_responder& respond) {
  // Content-Type, body and dryRun are checked by the pure model/rest_input (fuzzed).
  std::optional<std::string> dry_run_param;
  if (auto it = req.query.find("dryRun"); it != req.query.end())
    dry_run_param = it->second;
  auto parsed = model::parse_orchestrate_http(req.header("content-type"), req.body, dry_run_param, res.options);
  if (auto* refusal = std::get_if<model::http_refusal>(&parsed)) {
    respond(io::json_error(refusal->status, refusal->message));
    return;
  }
  auto request = std::get<model::orchestrate_request>(parsed);
  auto timeout = self->state.cfg.orchestrate_timeout;
  if (request.dry_run) {
    self->request(res.orchestrator, timeout, msg::plan_atom::value, request)
      .then(
        [respond](std::string& plan) {
          io::http_response r;
          r.body = std::move(plan);
          respond(std::move(r));
        },
        [respond](caf::error& e) { respond(error_response(e)); });
    return;
  }
  self->request(res.orchestrator, timeout, msg::orchestrate_atom::value, request)
    .then(
      [self, res, respond](model::orchestration_status& s) { respond_status(self, res, std::move(s), respond); },
      [respond](caf::error& e) { respond(error_response(e)); });
}

// SPEC 15: an accepted write is recorded in the decision history with who and from where (the
// orchestrator then records what it decided).
void record_write(self_ptr self, const msg::http_call& call, const std::string& resource, const char* kind,
                  std::optional<model::instance_id> instance = std::nullopt) {
  auto& history = self->state.cfg.history;
  if (!history)
    return;
  model::decision d;
  d.resource = resource;
  d.kind = kind;
  if (instance)
    d.instance = std::to_string(*instance);
  d.cause = "api";
  d.detail = "requested by " + call.caller + " from " +
             (call.request.peer.empty() ? std::string{"?"} : call.request.peer) + ": " +
             call.request.method + " " + call.request.target;
  record(history.get(), std::move(d));
}

void route(self_ptr self, msg::http_call& call) {
  auto& st = self->state;
  auto& req = call.request;
  auto respond = call.respond;
  auto seg = model::split_path(req.path);
  auto timeout = st.cfg.request_timeout;
  const bool get = req.method == "GET";
  const bool post = req.method == "POST";

  if (seg.size() == 1 && seg[0] == "healthz") {
    if (!get)
      return respond(method_not_allowed("GET"));
    return respond(json_response(200, {{"status", "ok"}}));
  }
  if (seg.size() == 1 && (seg[0] == "metrics" || seg[0] == "readyz")) {
    if (!get)
      return respond(method_not_allowed("GET"));
    if (seg[0] == "metrics") {
      self->request(st.cfg.stats, timeout, msg::stats_atom::value)
        .then(
          [respond](std::vector<msg::actor_stats>& s) {
            io::http_response r;
            r.content_type = "text/plain; version=0.0.4; charset=utf-8";
            r.body = render_prometheus(s);
            respond(std::move(r));
          },
          [respond](caf::error& e) { respond(error_response(e)); });
      return;
    }
    // readyz: every orchestrator rebuilt from ZooKeeper and connected.
    struct gather {
      json resources = json::object();
      std::size_t waiting = 0;
      bool ready = true;
    };
    auto g = std::make_shared<gather>();
    g->waiting = st.cfg.resources.size();
    if (g->waiting == 0)
      return respond(json_response(200, {{"ready", true}}));
    for (auto& [name, res] : st.cfg.resources) {
      auto finish = [g, respond] {
        if (--g->waiting == 0)
          respond(json_response(g->ready ? 200 : 503, {{"ready", g->ready}, {"resources", g->resources}}));
      };
      self->request(res.orchestrator, timeout, msg::status_atom::value)
        .then(
          [g, name = name, finish](model::orchestration_status& s) {
            g->resources[name] = s.ready;
            g->ready = g->ready && s.ready;
            finish();
          },
          [g, name = name, finish](caf::error&) {
            g->resources[name] = false;
            g->ready = false;
            finish();
          });
    }
    return;
  }
  if (seg.size() < 2 || seg[0] != "v1" || seg[1] != "api")
    return respond(io::json_error(404, "no such route: " + req.path));
  if (seg.size() == 3 && seg[2] == "stats") {
    if (!get)
      return respond(method_not_allowed("GET"));
    self->request(st.cfg.stats, timeout, msg::stats_atom::value)
      .then([respond](std::vector<msg::actor_stats>& s) { respond(json_response(200, stats_json(s))); },
            [respond](caf::error& e) { respond(error_response(e)); });
    return;
  }
  if (seg.size() == 3 && seg[2] == "events") {  // SPEC 14: the decision history
    if (!get)
      return respond(method_not_allowed("GET"));
    std::string error;
    auto filter = model::parse_decision_filter(req.query, error);
    if (!filter)
      return respond(io::json_error(400, error));
    if (!filter->resource.empty() && st.cfg.resources.count(filter->resource) == 0)
      return respond(io::json_error(404, "unknown resource " + model::quoted(filter->resource)));
    auto events = st.cfg.history ? st.cfg.history->query(*filter) : std::vector<model::decision>{};
    io::http_response r;
    r.body = R"({"events":)" + model::to_json(events) + "}";
    return respond(std::move(r));
  }
  if (seg.size() == 3 && seg[2] == "orchestrations") {  // the resource types (for the dashboard)
    if (!get)
      return respond(method_not_allowed("GET"));
    auto names = json::array();
    for (auto& [name, _] : st.cfg.resources)
      names.push_back(name);
    return respond(json_response(200, {{"resources", names}}));
  }
  if (seg.size() < 4 || seg[2] != "orchestrations")
    return respond(io::json_error(404, "no such route: " + req.path));
  auto it = st.cfg.resources.find(seg[3]);
  if (it == st.cfg.resources.end())
    return respond(io::json_error(404, "unknown resource " + model::quoted(seg[3])));
  auto res = it->second;

  if (seg.size() == 4) {  // GET /v1/api/orchestrations/:resource
    if (!get)
      return respond(method_not_allowed("GET"));
    self->request(res.orchestrator, timeout, msg::status_atom::value)
      .then([self, res, respond](model::orchestration_status& s) { respond_status_with_leader(self, res, std::move(s), respond); },
            [respond](caf::error& e) { respond(error_response(e)); });
    return;
  }
  if (seg.size() == 5 && seg[4] == "reconcile") {  // beyond: run one reconcile now
    if (!post)
      return respond(method_not_allowed("POST"));
    record_write(self, call, seg[3], "reconcile");
    self->request(res.orchestrator, st.cfg.orchestrate_timeout, msg::reconcile_atom::value)
      .then(
        [respond, name = seg[3]](msg::reconcile_report& r) {
          json body = {{"resource", name},      {"skipped", r.skipped},
                       {"inventory", r.inventory}, {"created", r.created},
                       {"deleted", r.deleted}};
          if (!r.note.empty())
            body["note"] = r.note;
          respond(json_response(200, body));
        },
        [respond](caf::error& e) { respond(error_response(e)); });
    return;
  }
  if (seg.size() == 5 && seg[4] == "orchestrate") {
    if (!post)
      return respond(method_not_allowed("POST"));
    record_write(self, call, seg[3], "orchestrate");
    return orchestrate(self, res, req, respond);
  }
  if (seg.size() == 6 && seg[5] == "instances") {  // GET /:resource/:id/instances
    if (!get)
      return respond(method_not_allowed("GET"));
    self->request(res.orchestrator, timeout, msg::why_atom::value, seg[4])
      .then(
        [respond, history = st.cfg.history, resource = seg[3], id = seg[4]](model::instance_id where,
                                                                             std::uint64_t decided_by) {
          // SPEC 14: the decisions that put it there, newest first.
          auto why = history ? history->about(resource, id, decided_by) : std::vector<model::decision>{};
          io::http_response r;
          r.body = R"({"runIn":)" + json(std::to_string(where)).dump() + R"(,"history":)" + model::to_json(why) + "}";
          respond(std::move(r));
        },
        [respond](caf::error& e) { respond(error_response(e)); });
    return;
  }
  if (seg.size() == 7 && seg[4] == "instances" && seg[6] == "drain") {
    if (!post)
      return respond(method_not_allowed("POST"));
    auto id = model::parse_instance_name(seg[5]);
    if (!id)
      return respond(io::json_error(400, "instance id must be a non-negative integer, got " + model::quoted(seg[5])));
    record_write(self, call, seg[3], "orchestrate", *id);
    self->request(res.orchestrator, st.cfg.orchestrate_timeout, msg::drain_atom::value, *id)
      .then(
        [self, res, respond](model::orchestration_status& s) { respond_status(self, res, std::move(s), respond); },
        [respond](caf::error& e) { respond(error_response(e)); });
    return;
  }
  respond(io::json_error(404, "no such route: " + req.path));
}

msg::http_api_actor::behavior_type api_behavior(self_ptr self, http_api_settings cfg) {
  self->state.cfg = std::move(cfg);
  return {
    [=](msg::http_atom, msg::http_call& call) {
      auto t = self->state.probe.measure("http");
      self->state.probe.add("requests");
      // Every answer is given on this actor (directly or in a response handler), so the
      // histogram is fed here, from request to answer.
      call.respond = [self, started = std::chrono::steady_clock::now(), respond = std::move(call.respond)](
                       io::http_response r) {
        self->state.probe.observe("http_request_duration", std::chrono::steady_clock::now() - started);
        respond(std::move(r));
      };
      route(self, call);
    },
    [=](msg::stats_atom) -> msg::actor_stats {
      auto& st = self->state;
      auto t = st.probe.measure("stats");
      if (auto& auth = st.cfg.auth) {  // counted on the io threads
        st.probe.set("http_auth_refused", static_cast<std::int64_t>(auth->refused()));
        st.probe.set("http_auth_refused_missing", static_cast<std::int64_t>(auth->refused_missing()));
        st.probe.set("http_auth_refused_unknown", static_cast<std::int64_t>(auth->refused_unknown()));
        st.probe.set("http_writes_accepted", static_cast<std::int64_t>(auth->accepted_writes()));
      }
      return st.probe.snapshot(mailbox_depth(self));
    },
  };
}

}  // namespace

msg::http_api_actor spawn_http_api(caf::actor_system& sys, http_api_settings settings) {
  return sys.spawn(api_behavior, std::move(settings));
}

io::http_handler make_http_handler(msg::http_api_actor api, std::string static_root,
                                   std::shared_ptr<io::http_auth> auth) {
  return [api, root = std::move(static_root), auth](io::http_request req, io::http_responder respond) {
    if (req.path == "/v1/api/openapi.json" && req.method == "GET")  // SPEC 11: public, like the page
      if (auto file = io::serve_static(root, "/openapi.json"))
        return respond(std::move(*file));
    bool api_path = req.path.rfind("/v1/", 0) == 0 || req.path == "/metrics" ||
                    req.path == "/healthz" || req.path == "/readyz";
    if (!api_path && req.method == "GET") {
      if (auto file = io::serve_static(root, req.path))
        return respond(std::move(*file));
      return respond(io::json_error(404, "no such page: " + req.path));
    }
    std::string who = "anonymous";
    if (auth)
      if (auto refused = auth->check(req, who))
        return respond(std::move(*refused));
    if (model::is_write(req.method))  // the audit trail of writes: who, from where, what
      log::info("audit", req.method + " " + req.target + " by " + who + " from " +
                           (req.peer.empty() ? std::string{"?"} : req.peer));
    caf::anon_send(api, msg::http_atom::value, msg::http_call{std::move(req), std::move(respond), who});
  };
}

}  // namespace iota::actors
