#pragma once
// Why an actor refused a request; the REST API maps each to an HTTP status.
#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace iota::msg {

enum class refusal : std::uint8_t {
  busy = 1,          // 409: an orchestrate is already running
  invalid_request,   // 400: bad options
  not_found,         // 404: unknown resource id or instance
  unprocessable,     // 422: valid request the state cannot satisfy (over max, no room)
  unavailable,       // 503: ZooKeeper down, queue full, inventory unreadable
  no_room,           // 409: a drain the other instances cannot absorb
  not_leader,        // 503: another daemon leads this resource type (the text names it)
};

inline constexpr caf::atom_value refusal_category = caf::atom("refusal");

inline caf::error make_refusal(refusal r, std::string why) {
  return caf::error{static_cast<std::uint8_t>(r), refusal_category,
                    caf::make_message(std::move(why))};
}

// The text given to make_refusal (or CAF's rendering for other errors).
std::string refusal_text(const caf::error& e);

}  // namespace iota::msg
