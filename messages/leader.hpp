#pragma once
// The leader actor's typed interface (SPEC section 10).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/orchestrator.hpp"
#include "messages/stats.hpp"

namespace iota::msg {

// What one asynchronous ZooKeeper call of an election came back with.
enum class election_step : std::uint8_t { created, children, leader_data, watched, fired, removed, retry };

using leader_actor = caf::typed_actor<
  caf::replies_to<stats_atom>::with<actor_stats>,
  // per resource type, as leadership of it is known: index in the configured order
  caf::replies_to<status_atom>::with<std::vector<leadership>>,
  // internal: session events, io results (type index, generation, step, rc, text, list)
  caf::reacts_to<zk_session_atom, int, std::int64_t>,
  caf::reacts_to<election_atom, std::uint64_t, std::uint64_t, std::uint8_t, int, std::string,
                 std::vector<std::string>>,
  caf::reacts_to<retry_atom, std::uint64_t>>;  // the disconnect timer

}  // namespace iota::msg
