#include "actors/replay_reconciler.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "io/log.hpp"

namespace iota::actors {

namespace {

struct reconciler_state {
  std::vector<msg::orchestrator_actor> orchestrators;
  bool leads_all = false;
  bool durable = false;
  bool done = false;
  static inline const char* name = "replay_reconciler";
};

using self_ptr = msg::replay_reconciler_actor::stateful_pointer<reconciler_state>;

void maybe_reconcile(self_ptr self) {
  auto& st = self->state;
  if (st.done || !st.leads_all || !st.durable)
    return;
  st.done = true;
  log::info("daemon", "journal replay durable: reconciling every resource type");
  for (auto& orch : st.orchestrators)
    caf::anon_send(orch, msg::reconcile_atom::value);
}

msg::replay_reconciler_actor::behavior_type
reconciler_behavior(self_ptr self, std::vector<msg::orchestrator_actor> orchestrators) {
  self->state.orchestrators = std::move(orchestrators);
  return {
    [=](msg::leads_all_atom, bool leads_all) {
      self->state.leads_all = leads_all;
      maybe_reconcile(self);
    },
    [=](msg::replay_durable_atom) {
      self->state.durable = true;
      maybe_reconcile(self);
    },
  };
}

}  // namespace

msg::replay_reconciler_actor spawn_replay_reconciler(
  caf::actor_system& sys, std::vector<msg::orchestrator_actor> orchestrators) {
  return sys.spawn(reconciler_behavior, std::move(orchestrators));
}

}  // namespace iota::actors
