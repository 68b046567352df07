#pragma once
// The REST API actor's interface (SPEC sections 7 and 11): one message per HTTP request.
#include <functional>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/stats.hpp"
#include "model/http_message.hpp"

namespace iota::msg {

// One request with the way to answer it. The responder may be called from the actor: it
// posts back to the connection's own thread.
struct http_call {
  model::http_request request;
  std::function<void(model::http_response)> respond;
  std::string caller = "anonymous";  // who the API's gate let in: "token line 5" (SPEC 15)
};

using http_api_actor = caf::typed_actor<caf::reacts_to<http_atom, http_call>,
                                        caf::replies_to<stats_atom>::with<actor_stats>>;

}  // namespace iota::msg

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(iota::msg::http_call)
