#pragma once
// Leader election (SPEC section 10): one actor per daemon runs one election per resource
// type, each under /iota/orchestrator/leader/<Resource> (outside /iota/orchestration, which
// the workers list). It tells each type's orchestrator whether this daemon leads it and who
// does, and the daemon whether it leads every type (the MQTT intake runs only then).
//
// Recipe: an ephemeral sequential znode `n_<token>_<seq>` per type (data: JSON naming this
// daemon); the lowest sequence leads; a follower watches only its predecessor and re-checks
// when it goes (no herd on a leader change), and the lowest one to keep the leader's name
// fresh for refusals (a read, once per change). The leader watches its own znode. The token
// (unique per daemon process) finds znodes a create left behind when its outcome was unknown
// (connection loss), which are removed. On session expiry the znodes are gone: the election
// is joined again with new ones. Disconnected from ZooKeeper for about a session timeout
// (the client notices a silent link after two thirds of it; a third more), a daemon that leads
// every type is *suspended*: it keeps its election znodes, its workers and its orchestrators
// (whose writes are fenced and fail while the link is down), and the daemon pauses its MQTT
// intake, so that if ZooKeeper did expire the session and elected another daemon, the two do
// not take the broker session from each other. Back in the same session (a ZooKeeper quorum
// lost and regained keeps sessions), it resumes; told the session expired, it steps down.
//
// One MQTT session serves every type, so leadership of all types should sit with one daemon:
// a daemon that does not lead the first configured type gives up the other types it leads
// (re-joins at the tail) as long as the first type's leader is a candidate there too. After
// racing starts, leadership converges to the first type's leader.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "messages/leader.hpp"
#include "messages/orchestrator.hpp"
#include "model/zk_layout.hpp"

namespace iota::io {
class zookeeper_store;
}

namespace iota::actors {

struct leader_settings {
  std::vector<std::string> resources;  // in configured order; the first leads the others
  std::string data;                    // this daemon's znode data, e.g. {"daemon":..,"http":..}
  std::string token;                   // unique per daemon process; "" = host-pid-random
  std::chrono::milliseconds session_timeout{10000};  // suspended when disconnected about this long
  std::chrono::milliseconds retry_delay{1000};
  std::string root{model::election_root};
  // Called from the actor when "leads every type" changes; must not block.
  std::function<void(bool leads_all)> on_leads_all;
  // Called from the actor when this daemon, leading every type, is suspended (true) and when
  // it is back in the same session (false); must not block.
  std::function<void(bool suspended)> on_suspended;
};

// Spawns the actor and registers it for the store's session events (works whether or not
// the store is started or connected yet).
msg::leader_actor spawn_leader(caf::actor_system& sys, leader_settings settings,
                               std::shared_ptr<io::zookeeper_store> store,
                               std::map<std::string, msg::orchestrator_actor> orchestrators);

// A clean stop's hand-over (SPEC 10: a standby leads within about a second): stops the leader
// actor (so that it does not join again) and removes the election znodes this daemon leads
// with, waiting at most `bound`; the standby's watch fires at once instead of when the stop
// has finished stopping the workers. Blocks: the daemon's main thread calls it, never an actor.
void resign(caf::actor_system& sys, const msg::leader_actor& leader, io::zookeeper_store& store,
            std::chrono::milliseconds bound);

// "host-pid-random": [A-Za-z0-9.-] only.
std::string make_leader_token();

}  // namespace iota::actors
