#pragma once
// The REST API (SPEC sections 7 and 11): each request becomes request/response messages to
// the actors, with a timeout that turns into 503, never a hang.
#include <chrono>
#include <map>
#include <string>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/stats.hpp"
#include "io/http_server.hpp"
#include "messages/liveness.hpp"
#include "messages/orchestrator.hpp"

namespace iota::actors {

// One request with the way to answer it (answering from the actor is fine: the responder
// posts back to the connection's own thread).
struct http_call {
  io::http_request request;
  io::http_responder respond;
};

using http_api_actor = caf::typed_actor<caf::reacts_to<msg::http_atom, http_call>,
                                        caf::replies_to<msg::stats_atom>::with<msg::actor_stats>>;

struct api_resource {
  msg::orchestrator_actor orchestrator;
  std::string instance_name;          // pods are "<instanceName>-<id>"
  model::resource_options options;    // the configured defaults for orchestrate
  msg::fleet_actor fleet;             // pod phases, restarts, heartbeats (may be null)
};

struct http_api_settings {
  std::map<std::string, api_resource> resources;
  stats_actor stats;
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds orchestrate_timeout{std::chrono::minutes{10}};
};

http_api_actor spawn_http_api(caf::actor_system& sys, http_api_settings settings);

// The server's handler: static files (the dashboard) are read on the io thread; everything
// else goes to the api actor.
io::http_handler make_http_handler(http_api_actor api, std::string static_root);

}  // namespace iota::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(iota::actors::http_call)
