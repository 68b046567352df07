#pragma once
// The REST API (SPEC sections 7 and 11): each request becomes request/response messages to
// the actors, with a timeout that turns into 503, never a hang.
#include <chrono>
#include <map>
#include <string>

#include <caf/fwd.hpp>

#include "io/http_auth.hpp"
#include "io/http_server.hpp"
#include "messages/http_api.hpp"
#include "messages/liveness.hpp"
#include "messages/orchestrator.hpp"

namespace iota::actors {

class decision_log;

struct api_resource {
  msg::orchestrator_actor orchestrator;
  std::string instance_name;          // pods are "<instanceName>-<id>"
  model::resource_options options;    // the configured defaults for orchestrate
  msg::fleet_actor fleet;             // pod phases, restarts, heartbeats (may be null)
};

struct http_api_settings {
  std::map<std::string, api_resource> resources;
  msg::stats_actor stats;
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds orchestrate_timeout{std::chrono::minutes{10}};
  std::shared_ptr<io::http_auth> auth;  // its refusals are reported with this actor's figures
  std::shared_ptr<decision_log> history;  // SPEC 14: GET /v1/api/events and the lookup's history
};

msg::http_api_actor spawn_http_api(caf::actor_system& sys, http_api_settings settings);

// The server's handler: static files (the dashboard, which holds no data) are read on the io
// thread; every other request passes `auth` (when given) there, is logged when it is a write,
// and goes to the api actor.
io::http_handler make_http_handler(msg::http_api_actor api, std::string static_root,
                                   std::shared_ptr<io::http_auth> auth = nullptr);

}  // namespace iota::actors
