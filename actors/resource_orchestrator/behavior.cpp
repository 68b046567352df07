// The resource_orchestrator's message handlers and its spawn; each handler hands its work to
// the role that owns it (see state.hpp).
#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "actors/resource_orchestrator/state.hpp"
#include "io/inventory.hpp"
#include "messages/errors.hpp"
#include "model/zk_layout.hpp"

namespace iota::actors {

namespace orchestrator {
namespace {

// Where `id` is and the decision that put it there; a follower answers after a fetch (the
// leader writes: read what it wrote).
template <class Found, class Missing>
void find_placement(self_ptr self, const std::string& id, Found found, Missing missing) {
  auto answer = [self, id, found, missing]() mutable {
    auto& st = self->state;
    if (auto where = st.orch.where(id))
      found(*where, st.orch.decided_by(id));
    else
      missing(msg::make_refusal(msg::refusal::not_found,
                                "resource " + id + " of " + st.cfg.resource + " is on no instance"));
  };
  if (!self->state.leader)
    follower_read(self, answer);
  else
    answer();
}


using model::orchestration_status;

// Why an orchestrate or a drain cannot start now: another daemon leads, or one runs already.
std::optional<caf::error> cannot_orchestrate(self_ptr self) {
  auto& st = self->state;
  if (!st.leader)
    return not_leader_refusal(self);
  if (st.orchestrating)
    return msg::make_refusal(msg::refusal::busy, "an orchestrate of " + st.cfg.resource + " is already running");
  return std::nullopt;
}

internal_actor::behavior_type orchestrator_behavior(
  self_ptr self, orchestrator_settings cfg, std::shared_ptr<io::zookeeper_store> store,
  std::shared_ptr<io::inventory_source> inventory) {
  auto& st = self->state;
  st.root = model::resource_path(cfg.resource);
  st.log_name = "orchestrator[" + cfg.resource + "]";
  st.probe.rename("resource_orchestrator/" + cfg.resource);
  st.orch.set_default_capacity(cfg.options.resource_per_instance);
  st.cfg = std::move(cfg);
  st.store = std::move(store);
  st.inventory = std::move(inventory);
  st.leader = !st.cfg.elected;
  st.probe.set("leader", st.leader ? 1 : 0);
  if (st.cfg.reconcile_interval.count() > 0)
    self->delayed_send(self, st.cfg.reconcile_interval, msg::reconcile_tick_atom::value);
  self->delayed_send(self, st.cfg.startup_wait, msg::startup_atom::value);
  if (st.store->connected()) {
    st.connected = true;
    st.session = st.store->session_id();
    fetch(self);
  }
  st.probe.set("zookeeper_connected", st.connected ? 1 : 0);
  return {
    [=](msg::apply_atom, msg::resource_event& ev) -> caf::result<msg::event_ack> {
      auto t = self->state.probe.measure("apply");
      return accept_event(self, ev);
    },
    [=](msg::apply_atom, msg::event_batch& evs) -> caf::result<msg::event_ack> {
      auto t = self->state.probe.measure("apply");
      return accept_events(self, std::move(evs));
    },
    [=](msg::orchestrate_atom, const model::orchestrate_request& req)
      -> caf::result<orchestration_status> {
      auto& st = self->state;
      auto t = st.probe.measure("orchestrate");
      if (auto rp = wait_for_startup<orchestration_status>(self, msg::orchestrate_atom::value, req))
        return *rp;
      if (auto refusal = cannot_orchestrate(self))
        return *refusal;
      st.orchestrating = true;
      inventory_waiter w;
      w.options = req.options;
      w.promise = self->make_response_promise<orchestration_status>();
      auto rp = w.promise;
      load_inventory(self, std::move(w));
      return rp;
    },
    [=](msg::plan_atom, const model::orchestrate_request& req) -> caf::result<std::string> {
      auto t = self->state.probe.measure("plan");
      inventory_waiter w;
      w.dry_run = true;
      w.options = req.options;
      w.plan_promise = self->make_response_promise<std::string>();
      auto rp = w.plan_promise;
      load_inventory(self, std::move(w));
      return rp;
    },
    [=](msg::drain_atom, model::instance_id victim) -> caf::result<orchestration_status> {
      auto& st = self->state;
      auto t = st.probe.measure("drain");
      if (auto rp = wait_for_startup<orchestration_status>(self, msg::drain_atom::value, victim))
        return *rp;
      if (auto refusal = cannot_orchestrate(self))
        return *refusal;
      if (!st.orch.contains(victim))
        return msg::make_refusal(msg::refusal::not_found,
                                 "instance " + std::to_string(victim) + " of " + st.cfg.resource +
                                   " does not exist");
      st.orchestrating = true;
      pending_orchestrate op;
      op.drain = true;
      op.victim = victim;
      op.promise = self->make_response_promise<orchestration_status>();
      auto rp = op.promise;
      st.queue.push_back(std::make_unique<pending_orchestrate>(std::move(op)));
      start_next_batches(self);
      return rp;
    },
    [=](msg::lookup_atom, const std::string& id) -> caf::result<model::instance_id> {
      auto t = self->state.probe.measure("lookup");
      auto rp = self->make_response_promise<model::instance_id>();
      find_placement(self, id, [rp](model::instance_id where, std::uint64_t) mutable { rp.deliver(where); },
                     [rp](caf::error e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    [=](msg::why_atom, const std::string& id) -> caf::result<model::instance_id, std::uint64_t> {
      auto t = self->state.probe.measure("why");
      auto rp = self->make_response_promise<model::instance_id, std::uint64_t>();
      find_placement(self, id, [rp](model::instance_id where, std::uint64_t why) mutable { rp.deliver(where, why); },
                     [rp](caf::error e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    [=](msg::status_atom) -> caf::result<orchestration_status> {
      auto t = self->state.probe.measure("status");
      if (!self->state.leader) {
        auto rp = self->make_response_promise<orchestration_status>();
        follower_read(self, [self, rp]() mutable { rp.deliver(status_of(self)); });
        return rp;
      }
      return status_of(self);
    },
    [=](msg::leader_atom, msg::leadership& l) {
      auto& st = self->state;
      auto t = st.probe.measure("leader");
      if (!st.cfg.elected)
        return;
      st.leader_data = l.leader_data;
      if (l.leader && (!st.leader || l.fence_path != st.fence_path))
        become_leader(self, l.fence_path);
      else if (!l.leader && st.leader)
        become_follower(self, "another daemon leads: " + leader_name(l.leader_data));
      check_started(self);
    },
    [=](msg::startup_atom) { end_startup_wait(self); },
    [=](msg::leader_atom) -> msg::leadership {
      auto& st = self->state;
      return msg::leadership{st.leader, st.cfg.elected, st.fence_path, st.leader_data};
    },
    [=](msg::reconcile_atom) -> caf::result<msg::reconcile_report> {
      auto& st = self->state;
      auto t = st.probe.measure("reconcile");
      if (auto rp = wait_for_startup<msg::reconcile_report>(self, msg::reconcile_atom::value))
        return *rp;
      if (!st.leader)
        return not_leader_refusal(self);
      if (!st.loaded || !st.connected)
        return msg::make_refusal(msg::refusal::unavailable,
                                 st.cfg.resource + " is not loaded from ZooKeeper yet");
      auto rp = self->make_response_promise<msg::reconcile_report>();
      start_reconcile(self, rp);
      return rp;
    },
    [=](msg::reconcile_tick_atom) {
      auto& st = self->state;
      if (st.leader && st.loaded && st.connected)
        start_reconcile(self, std::nullopt);
      self->delayed_send(self, st.cfg.reconcile_interval, msg::reconcile_tick_atom::value);
    },
    [=](msg::reconcile_inventory_atom, std::uint64_t id, std::vector<std::string>& ids,
        const std::string& error) {
      auto t = self->state.probe.measure("reconcile_inventory");
      on_reconcile_inventory(self, id, ids, error);
    },
    [=](msg::fenced_atom, std::uint64_t gen) {
      auto& st = self->state;
      auto t = st.probe.measure("fenced");
      if (gen != st.generation || st.in_flight.empty())
        return;
      st.probe.add("writes_fenced");
      log_warn(self, "write refused by ZooKeeper: our election znode " + st.fence_path +
                       " is gone, so another daemon may lead " + st.cfg.resource);
      become_follower(self, "fenced");
    },
    [=](msg::stats_atom) -> msg::actor_stats {
      auto t = self->state.probe.measure("stats");
      return self->state.probe.snapshot(mailbox_depth(self));
    },
    [=](msg::register_atom, caf::actor listener) {
      auto& st = self->state;
      st.listeners.push_back(listener);
      announce_to(self, listener);
    },
    [=](msg::zk_session_atom, io::session_state state, std::int64_t session) {
      auto& st = self->state;
      auto t = st.probe.measure("zk_session");
      switch (state) {
        case io::session_state::connected:
          st.connected = true;
          if (session != st.session)
            st.probe.add("zk_sessions");
          st.session = session;
          if (!st.loaded || st.loaded_session != session)
            fetch(self);  // a new session: rebuild from the znodes before writing again
          else
            start_next_batches(self);
          break;
        case io::session_state::connecting:
          st.connected = false;
          break;
        case io::session_state::expired:
          st.connected = false;
          st.loaded = false;
          log_warn(self, "ZooKeeper session expired; will rebuild from the znodes");
          break;
      }
      st.probe.set("zookeeper_connected", st.connected ? 1 : 0);
    },
    [=](msg::fetched_atom, std::uint64_t gen, model::fetched_instances& read) {
      auto t = self->state.probe.measure("fetched");
      if (gen != self->state.generation)
        return;
      on_fetched(self, read);
    },
    [=](msg::committed_atom, std::uint64_t gen, std::uint64_t batch_number, int rc) {
      auto t = self->state.probe.measure("committed");
      if (gen != self->state.generation || self->state.in_flight.empty())
        return;
      on_committed(self, batch_number, rc);
    },
    [=](msg::inventory_atom, std::uint64_t id, std::vector<std::string>& ids,
        const std::string& error) {
      auto t = self->state.probe.measure("inventory");
      on_inventory(self, id, ids, error);
    },
    [=](msg::retry_atom, std::uint64_t gen) {
      auto& st = self->state;
      if (gen != st.generation || st.loaded || !st.in_flight.empty())
        return;
      fetch(self);
    },
  };
}

}  // namespace
}  // namespace orchestrator

msg::orchestrator_actor spawn_resource_orchestrator(caf::actor_system& sys,
                                                    orchestrator_settings settings,
                                                    std::shared_ptr<io::zookeeper_store> store,
                                                    std::shared_ptr<io::inventory_source> inventory) {
  orchestrator::internal_actor hdl =
    sys.spawn(orchestrator::orchestrator_behavior, std::move(settings), store, std::move(inventory));
  store->add_session_listener([hdl](io::session_state s, std::int64_t session) {
    caf::anon_send(hdl, msg::zk_session_atom::value, s, session);
  });
  return hdl;
}

}  // namespace iota::actors
