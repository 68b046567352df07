#include "actors/scheduler.hpp"

#include <algorithm>
#include <cstdint>
#include <thread>

#include <caf/actor_system_config.hpp>

namespace iota::actors {

void tune_scheduler(caf::actor_system_config& cfg) {
  auto cores = static_cast<std::int64_t>(std::max(2u, std::thread::hardware_concurrency()));
  cfg.set("scheduler.max-threads", cores);
  cfg.set("work-stealing.aggressive-poll-attempts", std::int64_t{10});
  cfg.set("work-stealing.moderate-poll-attempts", std::int64_t{4});
}

}  // namespace iota::actors
