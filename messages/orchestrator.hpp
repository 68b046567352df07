#pragma once
// The resource_orchestrator's typed interface and its message types. Its io replies and
// timers extend it privately (actors/resource_orchestrator/state.hpp).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/stats.hpp"
#include "model/action_kind.hpp"
#include "model/options.hpp"
#include "model/orchestration.hpp"
#include "model/status.hpp"

namespace iota::msg {

// One notify's worth of change for one resource type (ids unused for reload_all).
struct resource_event {
  model::action_kind kind = model::action_kind::create;
  std::vector<std::string> ids;
  std::string cause = "notify";  // for the decision history: "notify" or "reconcile"
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resource_event& x) {
  return f(caf::meta::type_name("resource_event"), x.kind, x.ids, x.cause);
}

// Several events in one message, shared read-only by the sender (which keeps it to send again
// if refused) and the orchestrator (which reads them while they wait): never copied. Local
// only, never serialized.
using event_batch = std::shared_ptr<const std::vector<resource_event>>;

// Sent once the event is durable in ZooKeeper (or found to change nothing).
struct event_ack {
  std::uint32_t changed = 0;    // ids (or instances, for reload_all) it changed
  std::uint32_t unchanged = 0;  // redelivered create / unknown delete or update
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_ack& x) {
  return f(caf::meta::type_name("event_ack"), x.changed, x.unchanged);
}

// Who leads a resource type (SPEC section 10), from the leader actor to the orchestrator,
// and from the orchestrator to whoever asks (the REST API).
struct leadership {
  bool leader = false;       // this daemon leads (always true without an election)
  bool elected = false;      // an election runs for this type (false: single daemon, no HA)
  std::string fence_path;    // this daemon's election znode while it leads
  std::string leader_data;   // the leader's election znode data (JSON naming it); "" = unknown
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, leadership& x) {
  return f(caf::meta::type_name("leadership"), x.leader, x.elected, x.fence_path, x.leader_data);
}

// What one reconcile did (SPEC section 9).
struct reconcile_report {
  bool skipped = false;         // nothing compared (no orchestration yet, no inventory)
  std::string note;             // why it was skipped
  std::uint32_t inventory = 0;  // ids in the inventory
  std::uint32_t created = 0;    // ids placed by this reconcile
  std::uint32_t deleted = 0;    // ids removed by this reconcile
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reconcile_report& x) {
  return f(caf::meta::type_name("reconcile_report"), x.skipped, x.note, x.inventory, x.created,
           x.deleted);
}

using orchestrator_actor = caf::typed_actor<
  caf::replies_to<apply_atom, resource_event>::with<event_ack>,
  // several events in one message (the bridge's way): answered once all are durable, with
  // their sum; refused as a whole
  caf::replies_to<apply_atom, event_batch>::with<event_ack>,
  caf::replies_to<orchestrate_atom, model::orchestrate_request>::with<model::orchestration_status>,
  caf::replies_to<plan_atom, model::orchestrate_request>::with<std::string>,
  caf::replies_to<drain_atom, model::instance_id>::with<model::orchestration_status>,
  caf::replies_to<lookup_atom, std::string>::with<model::instance_id>,
  // where the id is and the decision that put it there (SPEC 14; 0 = unknown)
  caf::replies_to<why_atom, std::string>::with<model::instance_id, std::uint64_t>,
  caf::replies_to<status_atom>::with<model::orchestration_status>,
  caf::replies_to<stats_atom>::with<actor_stats>,
  caf::reacts_to<register_atom, caf::actor>,
  caf::reacts_to<leader_atom, leadership>,                        // from the leader actor
  caf::replies_to<leader_atom>::with<leadership>,
  caf::replies_to<reconcile_atom>::with<reconcile_report>>;      // run one now

}  // namespace iota::msg

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(iota::msg::event_batch)

namespace iota::model {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resource_options& x) {
  return f(caf::meta::type_name("resource_options"), x.init_instances, x.max_instances,
           x.resource_per_instance);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, orchestrate_request& x) {
  return f(caf::meta::type_name("orchestrate_request"), x.options, x.dry_run);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, instance_status& x) {
  return f(caf::meta::type_name("instance_status"), x.id, x.used, x.count, x.reload_times);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, orchestration_status& x) {
  return f(caf::meta::type_name("orchestration_status"), x.resource, x.ready, x.orchestrating,
           x.orchestrate_success, x.last_error, x.resources, x.queued_events, x.instances);
}

}  // namespace iota::model

