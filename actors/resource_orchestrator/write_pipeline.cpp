// The write pipeline: events and orchestrates are queued in arrival order, applied to the
// in-memory orchestration a batch at a time (group commit), rendered into multis and written;
// a batch is acknowledged once every one of its multis committed.
#include <map>

#include <caf/send.hpp>
#include <nlohmann/json.hpp>

#include "actors/resource_orchestrator/state.hpp"
#include "io/inventory.hpp"
#include "io/log.hpp"
#include "messages/errors.hpp"
#include "model/zk_layout.hpp"

namespace iota::actors::orchestrator {

using model::orchestration_status;

namespace {

msg::event_ack apply_event(self_ptr self, const msg::resource_event& ev, model::change_set& cs,
                           std::vector<model::decision>& decisions) {
  auto& orch = self->state.orch;
  auto& probe = self->state.probe;
  msg::event_ack ack;
  auto count = [&](bool changed) { ++(changed ? ack.changed : ack.unchanged); };
  std::map<model::instance_id, std::vector<std::string>> placed, removed;
  std::vector<model::instance_id> created;
  switch (ev.kind) {
    case model::action_kind::create:
      for (auto& id : ev.ids) {
        auto r = model::create_resource(orch, id, cs);
        count(r.outcome != model::create_outcome::already_placed);
        if (r.outcome == model::create_outcome::placed_on_new_instance)
          created.push_back(r.target);
        if (r.outcome != model::create_outcome::already_placed)
          placed[r.target].push_back(id);
      }
      probe.add("creates_applied", ack.changed);
      break;
    case model::action_kind::destroy:
      for (auto& id : ev.ids) {
        auto where = orch.where(id);
        bool changed = model::delete_resource(orch, id, cs);
        count(changed);
        if (changed && where)
          removed[*where].push_back(id);
      }
      probe.add("deletes_applied", ack.changed);
      break;
    case model::action_kind::update:
      for (auto& id : ev.ids)
        count(model::update_resource(orch, id, cs));
      probe.add("updates_applied", ack.changed);
      break;
    case model::action_kind::reload_all:
      ack.changed = static_cast<std::uint32_t>(model::reload_all(orch, cs));
      probe.add("reload_all_applied");
      break;
  }
  probe.add("redelivered_unchanged", ack.unchanged);
  for (auto id : created)
    decisions.push_back(new_decision(self, "instance_created", id, {}, ev.cause, "no instance had room"));
  decide_placements(self, "placed", placed, ev.cause, "", true, decisions);
  decide_placements(self, "removed", removed, ev.cause, "", false, decisions);
  return ack;
}

void finish_orchestrate(self_ptr self, pending_orchestrate& op, const std::string& error) {
  auto& st = self->state;
  st.orchestrating = false;
  if (!op.drain) {
    st.orchestrate_success = error.empty();
    st.last_error = error;
  }
  auto summary = std::to_string(st.orch.instances().size()) + " instances, " +
                 std::to_string(st.orch.resources()) + " resources";
  decide_now(self, new_decision(self, "orchestrate", op.drain ? std::optional<model::instance_id>{op.victim} : std::nullopt,
                                {}, op.drain ? "drain" : "orchestrate",
                                error.empty() ? "finished: " + summary : "refused: " + error));
  if (error.empty()) {
    log_info(self, std::string{op.drain ? "drain of instance [" + std::to_string(op.victim) + "]"
                                        : "orchestrate"} +
                     " done: " + summary);
    op.promise.deliver(status_of(self));
  } else {
    log_warn(self, (op.drain ? "drain failed: " : "orchestrate failed: ") + error);
    op.promise.deliver(msg::make_refusal(
      op.drain ? msg::refusal::no_room : msg::refusal::unprocessable, error));
  }
}

// Completes a batch whose writes are durable: acks events, continues or ends orchestrates.
void complete(self_ptr self, batch& b) {
  auto& st = self->state;
  record_decisions(self, b.decisions);
  std::size_t ack_index = 0;
  for (auto& op : b.ops) {
    if (auto* ev = std::get_if<pending_event>(&op)) {
      ev->promise.deliver(b.acks[ack_index++]);
      --st.queued_events;
    } else {
      auto& orch_op = std::get<pending_orchestrate>(op);
      if (b.moves_left > 0)
        st.queue.push_back(std::move(orch_op));  // next throttled step, after queued events
      else
        finish_orchestrate(self, orch_op, {});
    }
  }
  st.probe.set("instances", static_cast<std::int64_t>(st.orch.instances().size()));
  st.probe.set("resources", static_cast<std::int64_t>(st.orch.resources()));
  st.probe.set("queued_events", static_cast<std::int64_t>(st.queued_events));
}

// Sends the batch's multis that may go now: all of them up to its removals at once (the
// client pipelines them on one session, ZooKeeper applies them in order, each holds whole
// instances), then, once those committed, the removals. All carry the batch's generation;
// the batch is durable when every one of them committed.
void send_multi(self_ptr self) {
  auto& st = self->state;
  auto& b = *st.in_flight;
  auto until = b.committed < b.rendered.removals_from ? b.rendered.removals_from
                                                      : b.rendered.multis.size();
  if (b.sent == 0) {
    ++st.generation;  // one per batch: a stale batch's answers are ignored
    b.multi_started = clock_type::now();
  }
  auto gen = st.generation;
  internal_actor hdl = self;
  for (; b.sent < until; ++b.sent) {
    std::vector<model::zk_op> ops;
    bool fenced = add_fence(self, ops);  // HA: first op, a check of our election znode
    for (auto i : b.rendered.multis[b.sent])
      for (auto& op : b.rendered.instances[i].ops)
        ops.push_back(std::move(op));
    st.probe.add("multis");
    st.probe.add("multi_ops", static_cast<std::int64_t>(ops.size()));
    st.store->multi(std::move(ops),
                    [hdl, gen, fenced](io::zk_rc rc, std::vector<io::zk_rc> results) {
                      if (fenced && fence_failed(rc, results))
                        caf::anon_send(hdl, msg::fenced_atom::value, gen);
                      else
                        caf::anon_send(hdl, msg::committed_atom::value, gen, rc);
                    });
  }
}


}  // namespace

// An event from the bridge (or a reconcile): queued behind everything received before it
// and acknowledged once durable.
caf::result<msg::event_ack> accept_event(self_ptr self, msg::resource_event& ev) {
  auto& st = self->state;
  if (!st.leader) {
    st.probe.add("events_refused_not_leader");
    return not_leader_refusal(self);
  }
  // A promise takes over the reply, so make it only once the event is accepted.
  if (st.queued_events >= st.cfg.max_queued_events) {
    st.probe.add("events_refused_queue_full");
    if (st.probe.get("events_refused_queue_full") % 1000 == 1)
      log_warn(self, "event queue full (" + std::to_string(st.queued_events) +
                       " waiting): refusing events until ZooKeeper catches up");
    return msg::make_refusal(msg::refusal::unavailable,
                             "event queue of " + st.cfg.resource + " is full");
  }
  ++st.queued_events;
  note_for_reconcile(self, ev);
  auto rp = self->make_response_promise<msg::event_ack>();
  st.queue.push_back(pending_event{std::move(ev), rp});
  start_next_batches(self);
  return rp;
}

// Takes the next batch off the queue and starts writing it; loops over batches that
// change nothing (redeliveries), which complete at once.
void start_next_batches(self_ptr self) {
  auto& st = self->state;
  while (st.loaded && st.connected && !st.fetching && !st.in_flight &&
         (!st.queue.empty() || !st.repairs.empty())) {
    batch b;
    model::change_set cs = std::move(st.repairs);
    st.repairs.clear();
    if (!st.queue.empty() && std::holds_alternative<pending_orchestrate>(st.queue.front())) {
      auto op = std::get<pending_orchestrate>(std::move(st.queue.front()));
      st.queue.pop_front();
      if (!op.plan) {
        auto planned = op.drain ? model::plan_drain(st.orch, op.victim)
                                : model::plan_orchestrate(st.orch, op.inventory, op.options);
        if (auto* err = std::get_if<std::string>(&planned)) {
          finish_orchestrate(self, op, *err);
          continue;
        }
        op.plan = std::move(std::get<model::orchestrate_plan>(planned));
        auto summary = std::to_string(op.plan->target.instances) + " instances of " +
                       std::to_string(op.plan->target.capacity) + ", " +
                       std::to_string(op.plan->placements.size()) + " placed, " +
                       std::to_string(op.plan->moves.size()) + " moves, " +
                       std::to_string(op.plan->removals.size()) + " removed, " +
                       std::to_string(op.plan->added.size()) + " added, " +
                       std::to_string(op.plan->drained.size()) + " drained";
        log_info(self, std::string{op.drain ? "drain" : "orchestrate"} + ": " + summary);
        decide_now(self, new_decision(self, "orchestrate", op.drain ? std::optional<model::instance_id>{op.victim} : std::nullopt,
                                      {}, op.drain ? "drain" : "orchestrate", "started: " + summary));
      }
      bool first_step = !op.plan_applied;
      std::map<model::instance_id, std::vector<std::string>> removed_from;
      if (first_step)  // its removals still have a place
        for (auto& id : op.plan->removals)
          if (auto where = st.orch.where(id))
            removed_from[*where].push_back(id);
      b.moves_left = model::apply_plan(st.orch, *op.plan, cs, st.cfg.max_moves_per_step);
      if (first_step) {
        op.plan_applied = true;
        decide_plan(self, *op.plan, op.drain ? "drain" : "orchestrate", removed_from, b.decisions);
      }
      b.ops.push_back(std::move(op));
    } else {
      // Everything queued (up to batch_size) goes together: a batch costs what it
      // touches (whole instances), so it grows with the queue while the last one was written.
      while (!st.queue.empty() && b.acks.size() < st.cfg.batch_size &&
             std::holds_alternative<pending_event>(st.queue.front())) {
        auto& ev = std::get<pending_event>(st.queue.front());
        b.acks.push_back(apply_event(self, ev.event, cs, b.decisions));
        b.ops.push_back(std::move(st.queue.front()));
        st.queue.pop_front();
      }
      st.probe.add("batches");
      st.probe.add("batched_events", static_cast<std::int64_t>(b.acks.size()));
    }
    b.rendered = model::render(cs, st.orch, st.root, st.cfg.multi_budget);
    if (b.rendered.multis.empty()) {
      complete(self, b);
      continue;
    }
    st.in_flight = std::move(b);
    send_multi(self);
  }
}

void on_committed(self_ptr self, io::zk_rc rc) {
  auto& st = self->state;
  auto& b = *st.in_flight;
  st.probe.observe("zookeeper_multi_duration", clock_type::now() - b.multi_started);
  if (rc == io::zk_ok) {
    st.probe.add("multis_committed");
    if (++b.committed < b.rendered.multis.size()) {
      if (b.committed == b.sent)
        send_multi(self);  // the removals, now that the rest is durable
      return;
    }
    for (auto& r : b.rendered.instances)
      model::record_committed(r, st.orch);
    auto done = std::move(*st.in_flight);
    st.in_flight.reset();
    st.attempts = 0;
    announce_instances(self);
    complete(self, done);
    start_next_batches(self);
    return;
  }
  // Someone else wrote (a version or existence check failed), or the outcome is unknown
  // (connection loss): re-read the truth and apply the batch again. Re-applying is safe:
  // a create of a placed id and a delete of an unknown id change nothing.
  bool conflict = !io::zk_transient(rc);
  st.probe.add(conflict ? "write_conflicts" : "write_interrupted");
  auto failed = std::move(*st.in_flight);
  st.in_flight.reset();
  ++st.generation;  // the batch's other multis still answer: ignored
  ++st.attempts;
  log_warn(self, "write failed (" + io::zk_error_text(rc) + "), attempt " +
                   std::to_string(st.attempts) + ": re-reading " + st.root + " and retrying " +
                   std::to_string(failed.ops.size()) + " operations");
  if (st.attempts >= st.cfg.max_attempts) {
    // Something this batch does keeps failing (e.g. a payload ZooKeeper refuses): refuse it
    // rather than block every later event forever. The senders learn it and may resend.
    log::error(st.log_name, "giving up on " + std::to_string(failed.ops.size()) +
                              " operations after " + std::to_string(st.attempts) + " attempts");
    st.probe.add("batches_refused");
    for (auto& op : failed.ops) {
      auto err = msg::make_refusal(msg::refusal::unavailable,
                                   "write to ZooKeeper failed: " + io::zk_error_text(rc));
      if (auto* ev = std::get_if<pending_event>(&op)) {
        ev->promise.deliver(err);
        --st.queued_events;
      } else {
        finish_orchestrate(self, std::get<pending_orchestrate>(op),
                           "write to ZooKeeper failed: " + io::zk_error_text(rc));
      }
    }
    st.attempts = 0;
  } else {
    for (auto it = failed.ops.rbegin(); it != failed.ops.rend(); ++it) {
      if (auto* o = std::get_if<pending_orchestrate>(&*it)) {
        o->plan.reset();  // plan again against what is really there
        o->plan_applied = false;
      }
      st.queue.push_front(std::move(*it));
    }
  }
  st.loaded = false;
  if (st.attempts > 1)
    retry_later(self);
  else
    fetch(self);
}

void load_inventory(self_ptr self, inventory_waiter w) {
  auto& st = self->state;
  auto id = st.next_waiter++;
  st.waiters.emplace(id, std::move(w));
  internal_actor hdl = self;
  st.inventory->load([hdl, id](io::inventory_result r) {
    caf::anon_send(hdl, msg::inventory_atom::value, id, std::move(r.ids),
                   r.ok ? std::string{} : (r.error.empty() ? "inventory failed" : r.error));
  });
}

void on_inventory(self_ptr self, std::uint64_t id, std::vector<std::string>& ids,
                  const std::string& error) {
  auto& st = self->state;
  auto it = st.waiters.find(id);
  if (it == st.waiters.end())
    return;
  auto w = std::move(it->second);
  st.waiters.erase(it);
  if (!error.empty()) {
    log_warn(self, "inventory " + st.inventory->describe() + ": " + error);
    auto err = msg::make_refusal(msg::refusal::unavailable, error);
    if (w.dry_run) {
      w.plan_promise.deliver(err);
    } else {
      st.orchestrating = false;
      st.orchestrate_success = false;
      st.last_error = error;
      w.promise.deliver(err);
    }
    return;
  }
  if (!w.dry_run && !st.leader) {  // deposed while the inventory loaded
    st.orchestrating = false;
    w.promise.deliver(not_leader_refusal(self));
    return;
  }
  auto planned = model::plan_orchestrate(st.orch, ids, w.options);
  if (w.dry_run) {
    if (auto* err = std::get_if<std::string>(&planned))
      w.plan_promise.deliver(msg::make_refusal(msg::refusal::unprocessable, *err));
    else
      w.plan_promise.deliver(model::to_json(std::get<model::orchestrate_plan>(planned)).dump());
    return;
  }
  if (auto* err = std::get_if<std::string>(&planned)) {
    pending_orchestrate op;
    op.promise = w.promise;
    finish_orchestrate(self, op, *err);
    return;
  }
  log_info(self, "orchestrate of " + std::to_string(ids.size()) + " ids from " +
                   st.inventory->describe() + " queued");
  pending_orchestrate op;
  op.inventory = std::move(ids);
  op.options = w.options;
  op.promise = w.promise;
  st.queue.push_back(std::move(op));
  start_next_batches(self);
}

}  // namespace iota::actors::orchestrator
