#pragma once
// Every atom of the daemon, declared once (CAF 0.17: at most 10 characters).
#include <caf/atom.hpp>

namespace iota::msg {

using apply_atom = caf::atom_constant<caf::atom("apply")>;            // a resource event
using orchestrate_atom = caf::atom_constant<caf::atom("orchestr")>;   // run an orchestrate
using plan_atom = caf::atom_constant<caf::atom("plan")>;              // dry-run orchestrate
using drain_atom = caf::atom_constant<caf::atom("drain")>;            // drain one instance
using why_atom = caf::atom_constant<caf::atom("why")>;                // id -> instance, decision
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;          // id -> instance
using status_atom = caf::atom_constant<caf::atom("status")>;          // orchestration snapshot
using stats_atom = caf::atom_constant<caf::atom("stats")>;            // per-actor counters
using register_atom = caf::atom_constant<caf::atom("register")>;      // add a listener / a probe
using instance_atom = caf::atom_constant<caf::atom("instance")>;      // instance added/removed

// Internal: results of asynchronous io handed back to the actor that asked.
using zk_session_atom = caf::atom_constant<caf::atom("zksession")>;
using fetched_atom = caf::atom_constant<caf::atom("fetched")>;
using committed_atom = caf::atom_constant<caf::atom("committed")>;
using inventory_atom = caf::atom_constant<caf::atom("inventory")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;

// HA and reconcile (SPEC sections 9, 10).
using leader_atom = caf::atom_constant<caf::atom("leader")>;          // leadership of a type
using reconcile_atom = caf::atom_constant<caf::atom("reconcile")>;    // inventory vs placed ids
using reconcile_tick_atom = caf::atom_constant<caf::atom("recontick")>;     // periodic reconcile
using reconcile_inventory_atom = caf::atom_constant<caf::atom("reconinv")>;  // its inventory
using startup_atom = caf::atom_constant<caf::atom("startup")>;        // start-up wait over
using fenced_atom = caf::atom_constant<caf::atom("fenced")>;          // a multi failed its fence
using election_atom = caf::atom_constant<caf::atom("election")>;      // leader actor's io results
using leads_all_atom = caf::atom_constant<caf::atom("leadsall")>;     // this daemon leads every type
using replay_durable_atom = caf::atom_constant<caf::atom("replaydur")>;  // journal replay in ZooKeeper

}  // namespace iota::msg

namespace iota::msg {

using notify_atom = caf::atom_constant<caf::atom("notify")>;          // one notify from MQTT
using mqtt_state_atom = caf::atom_constant<caf::atom("mqttstate")>;   // broker up/down
using flush_atom = caf::atom_constant<caf::atom("flush")>;            // send what was gathered

}  // namespace iota::msg

namespace iota::msg {

using http_atom = caf::atom_constant<caf::atom("http")>;              // one REST request

}  // namespace iota::msg

namespace iota::msg {

using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;   // an instance is alive
using check_atom = caf::atom_constant<caf::atom("check")>;           // heartbeat check period
using restart_atom = caf::atom_constant<caf::atom("restart")>;       // delete + create a pod
using phase_atom = caf::atom_constant<caf::atom("phase")>;           // a pod phase observed
using pod_check_atom = caf::atom_constant<caf::atom("podcheck")>;    // pod monitor period
using channel_atom = caf::atom_constant<caf::atom("channel")>;       // heartbeat channel health
using maintenance_atom = caf::atom_constant<caf::atom("maintain")>;  // maintenance mode on/off
using stop_atom = caf::atom_constant<caf::atom("stop")>;             // instance removed
using done_atom = caf::atom_constant<caf::atom("done")>;             // a driver call finished
using kafka_atom = caf::atom_constant<caf::atom("kafka")>;           // a consumed message
using kafka_state_atom = caf::atom_constant<caf::atom("kafkastate")>;

}  // namespace iota::msg
