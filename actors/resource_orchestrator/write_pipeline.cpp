// The write pipeline: events and orchestrates are queued in arrival order, applied to the
// in-memory orchestration a batch at a time (group commit), rendered into multis and written.
// The next batch is applied and sent while earlier ones are in flight (versions predicted);
// an event is acknowledged once the multis holding what it changed committed.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <tuple>

#include <caf/send.hpp>
#include <nlohmann/json.hpp>

#include "actors/resource_orchestrator/state.hpp"
#include "io/inventory.hpp"
#include "io/log.hpp"
#include "io/memory.hpp"
#include "messages/errors.hpp"
#include "model/take_entry.hpp"
#include "model/zk_layout.hpp"

namespace iota::actors::orchestrator {

using model::orchestration_status;

namespace {

// The decisions of a batch's events (SPEC 14): one per kind, cause and instance for every
// `ids_per_decision` ids, so a burst costs a decision (and a log line) per ten ids rather than
// per notify. Each lists all its ids, so none is kept as a bulk decision (those explain the ids
// of an orchestrate), and the ring's memory stays bounded by ten ids a decision. Each placed id
// is stamped with its decision's number as it is placed.
class event_decisions {
 public:
  event_decisions(self_ptr self, std::vector<model::decision>& out) : self_(self), out_(out) {}

  void note(const char* kind, const std::string& cause, model::instance_id instance,
            const std::string& id, bool stamp) {
    auto key = std::make_tuple(kind, cause, instance);
    auto it = index_.find(key);
    if (it == index_.end())
      it = index_.emplace(key, out_.size()).first;
    if (it->second == out_.size() || out_[it->second].count >= ids_per_decision) {
      it->second = out_.size();
      out_.push_back(new_decision(self_, kind, instance, {}, cause, ""));
    }
    count_in_decision(self_, out_[it->second], id, stamp);
  }

 private:
  self_ptr self_;
  std::vector<model::decision>& out_;
  std::map<std::tuple<const char*, std::string, model::instance_id>, std::size_t> index_;
  static constexpr std::size_t ids_per_decision = 10;
};

// Applies one event; `touched` gets the instances it changed (the multis that hold them make
// it durable).
msg::event_ack apply_event(self_ptr self, const msg::resource_event& ev, model::change_set& cs,
                           std::vector<model::decision>& decisions, event_decisions& decided,
                           std::vector<model::instance_id>& touched) {
  auto& orch = self->state.orch;
  auto& probe = self->state.probe;
  msg::event_ack ack;
  auto count = [&](bool changed) { ++(changed ? ack.changed : ack.unchanged); };
  switch (ev.kind) {
    case model::action_kind::create:
      for (auto& id : ev.ids) {
        auto r = model::create_resource(orch, id, cs);
        count(r.outcome != model::create_outcome::already_placed);
        if (r.outcome == model::create_outcome::placed_on_new_instance)
          decisions.push_back(new_decision(self, "instance_created", r.target, {}, ev.cause, "no instance had room"));
        if (r.outcome != model::create_outcome::already_placed) {
          decided.note("placed", ev.cause, r.target, id, true);
          touched.push_back(r.target);
        }
      }
      probe.add("creates_applied", ack.changed);
      break;
    case model::action_kind::destroy:
      for (auto& id : ev.ids) {
        auto where = orch.where(id);
        bool changed = model::delete_resource(orch, id, cs);
        count(changed);
        if (changed && where) {
          decided.note("removed", ev.cause, *where, id, false);
          touched.push_back(*where);
        }
      }
      probe.add("deletes_applied", ack.changed);
      break;
    case model::action_kind::update:
      for (auto& id : ev.ids) {
        bool changed = model::update_resource(orch, id, cs);
        count(changed);
        if (auto where = orch.where(id); changed && where)
          touched.push_back(*where);
      }
      probe.add("updates_applied", ack.changed);
      break;
    case model::action_kind::reload_all:
      ack.changed = static_cast<std::uint32_t>(model::reload_all(orch, cs));
      for (auto& [id, _] : orch.instances())
        touched.push_back(id);
      probe.add("reload_all_applied");
      break;
  }
  probe.add("redelivered_unchanged", ack.unchanged);
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
  op.inventory = {};  // freed with the plan, and their pages given back
  op.plan.reset();
  io::return_free_memory();
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

// One event is durable: counted in its group, whose sender is answered with the last.
void ack_event(self_ptr self, pending_event& ev, const msg::event_ack& ack) {
  auto& st = self->state;
  ev.acked = true;
  --st.queued_events;
  auto& g = *ev.group;
  g.ack.changed += ack.changed;
  g.ack.unchanged += ack.unchanged;
  if (--g.left == 0)
    g.promise.deliver(g.ack);
}

// What waited for step `k` of batch `b` (0: for every earlier batch to be durable; k + 1: for
// its multi k) is durable now: its events are acknowledged, its decisions recorded.
void settle_step(self_ptr self, batch& b, std::size_t k) {
  if (k < b.ack_after.size())
    for (auto i : b.ack_after[k]) {
      auto& ev = std::get<pending_event>(b.ops[i]);
      if (!ev.acked)
        ack_event(self, ev, b.acks[i]);
    }
  if (k < b.decisions_after.size()) {
    std::vector<model::decision> durable;
    for (auto i : b.decisions_after[k])
      durable.push_back(std::move(b.decisions[i]));
    record_decisions(self, durable);
  }
}

// Settles the steps of `b` before `end` not settled yet (once each, in order).
void settle_until(self_ptr self, batch& b, std::size_t end) {
  for (; b.settled < end; ++b.settled)
    settle_step(self, b, b.settled);
}

// Completes a batch whose writes are all durable: continues or ends orchestrates.
void complete(self_ptr self, batch& b) {
  auto& st = self->state;
  settle_until(self, b, b.rendered.multis.size() + 1);
  for (auto& op : b.ops) {
    if (auto* orch_op = as_orchestrate(op)) {
      if (b.moves_left > 0)
        st.queue.push_back(std::move(op));  // next throttled step, after queued events
      else
        finish_orchestrate(self, *orch_op, {});
    }
  }
  st.probe.set("instances", static_cast<std::int64_t>(st.orch.instances().size()));
  st.probe.set("resources", static_cast<std::int64_t>(st.orch.resources()));
  st.probe.set("queued_events", static_cast<std::int64_t>(st.queued_events));
}

// Sends the batch's multis that may go now: all of them up to its removals at once (the
// client pipelines them on one session, ZooKeeper applies them in order, each holds whole
// instances), then, once those committed, the removals. All carry the generation; a failure
// anywhere re-reads and re-applies everything not yet durable.
void send_multi(self_ptr self, batch& b) {
  auto& st = self->state;
  auto until = b.committed < b.rendered.removals_from ? b.rendered.removals_from
                                                      : b.rendered.multis.size();
  if (b.sent == 0)
    b.multi_started = clock_type::now();
  auto gen = st.generation;
  auto number = b.number;
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
                    [hdl, gen, number, fenced](io::zk_rc rc, std::vector<io::zk_rc> results) {
                      if (fenced && fence_failed(rc, results))
                        caf::anon_send(hdl, msg::fenced_atom::value, gen);
                      else
                        caf::anon_send(hdl, msg::committed_atom::value, gen, number, rc);
                    });
  }
}

// The oldest batch in flight: every earlier batch is durable, and so are its committed
// multis; a batch with nothing (more) to write completes.
void settle_heads(self_ptr self) {
  auto& st = self->state;
  while (!st.in_flight.empty()) {
    auto& head = st.in_flight.front();
    settle_until(self, head, head.committed + 1);
    if (head.committed < head.rendered.multis.size())
      return;
    auto done = std::move(head);
    st.in_flight.pop_front();
    complete(self, done);
  }
}

// Whether another batch may start now. Orchestrates run alone; events pipeline behind events
// (see orchestrator_settings::pipeline_low_water) once the last batch has sent every multi (its
// removals wait for its other multis: a later batch might create an instance of that number).
bool may_start_batch(self_ptr self) {
  auto& st = self->state;
  if (!st.loaded || !st.connected || st.fetching || (st.queue.empty() && st.repairs.empty()))
    return false;
  if (st.in_flight.empty())
    return true;
  auto& last = st.in_flight.back();
  bool orchestrate_next = !st.queue.empty() && is_orchestrate(st.queue.front());
  auto depth = st.cfg.batch_size <= 1 ? 1 : st.cfg.max_batches_in_flight;
  return !last.orchestrate() && !orchestrate_next && last.sent == last.rendered.multis.size() &&
         st.in_flight.size() < depth && st.bytes_in_flight <= st.cfg.pipeline_low_water;
}

// Which multi holds each rendered instance.
std::map<model::instance_id, std::size_t> multi_of(const model::rendered_change_set& r) {
  std::map<model::instance_id, std::size_t> out;
  for (std::size_t m = 0; m < r.multis.size(); ++m)
    for (auto i : r.multis[m])
      out[r.instances[i].id] = m;
  return out;
}

// The step (see batch::ack_after) after which something touching `instances` is durable.
std::size_t step_of(const std::map<model::instance_id, std::size_t>& multis,
                    const std::vector<model::instance_id>& instances) {
  std::size_t step = 0;
  for (auto id : instances)
    if (auto it = multis.find(id); it != multis.end())
      step = std::max(step, it->second + 1);
  return step;
}

}  // namespace

// An event from the bridge (or a reconcile), or several: each is queued behind everything
// received before it; the sender is answered once all of them are durable.
caf::result<msg::event_ack> accept_events(self_ptr self, msg::event_batch batch) {
  auto& st = self->state;
  static const std::vector<msg::resource_event> none;
  auto& evs = batch ? *batch : none;
  if (!st.leader) {
    st.probe.add("events_refused_not_leader", static_cast<std::int64_t>(evs.size()));
    return not_leader_refusal(self);
  }
  // A promise takes over the reply, so make it only once the events are accepted.
  if (st.queued_events + evs.size() > st.cfg.max_queued_events && st.queued_events > 0) {
    st.probe.add("events_refused_queue_full", static_cast<std::int64_t>(evs.size()));
    if (static_cast<std::size_t>(st.probe.get("events_refused_queue_full")) % 1000 < evs.size())
      log_warn(self, "event queue full (" + std::to_string(st.queued_events) +
                       " waiting): refusing events until ZooKeeper catches up");
    return msg::make_refusal(msg::refusal::unavailable,
                             "event queue of " + st.cfg.resource + " is full");
  }
  auto group = std::make_shared<event_group>();
  group->promise = self->make_response_promise<msg::event_ack>();
  group->left = evs.size();
  if (evs.empty()) {
    group->promise.deliver(msg::event_ack{});
    return group->promise;
  }
  st.queued_events += evs.size();
  for (std::uint32_t i = 0; i < evs.size(); ++i) {
    note_for_reconcile(self, evs[i]);
    st.queue.push_back(pending_event{batch, i, group});
  }
  st.probe.add("apply_messages");
  start_next_batches(self);
  return group->promise;
}

caf::result<msg::event_ack> accept_event(self_ptr self, msg::resource_event& ev) {
  return accept_events(self, std::make_shared<std::vector<msg::resource_event>>(1, std::move(ev)));
}

// Takes the next batch off the queue and starts writing it while the pipeline has room;
// batches that change nothing (redeliveries) complete once every earlier batch has.
void start_next_batches(self_ptr self) {
  auto& st = self->state;
  while (may_start_batch(self)) {
    batch b;
    b.number = st.next_batch++;
    model::change_set cs = std::move(st.repairs);
    st.repairs.clear();
    std::vector<std::vector<model::instance_id>> touched;  // per op, for events
    if (!st.queue.empty() && is_orchestrate(st.queue.front())) {
      auto box = std::get<orchestrate_box>(std::move(st.queue.front()));
      auto& op = *box;
      st.queue.pop_front();
      if (!op.plan) {
        auto planned = op.drain ? model::plan_drain(st.orch, op.victim)
                                : model::plan_orchestrate(st.orch, op.inventory, op.options);
        if (auto* err = std::get_if<std::string>(&planned)) {
          finish_orchestrate(self, op, *err);
          continue;
        }
        op.plan = std::move(std::get<model::orchestrate_plan>(planned));
      }
      if (!op.plan_announced) {
        op.plan_announced = true;
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
      if (b.moves_left == 0) {  // applied whole: its id lists are not needed any more
        op.plan->placements = {};
        op.plan->moves = {};
        op.plan->removals = {};
      }
      b.ops.push_back(std::move(box));
      b.acks.emplace_back();
      touched.emplace_back();
    } else {
      // Everything queued (up to batch_size) goes together: a batch costs what it touches
      // (whole instances), so it grows with the queue while the last ones were written.
      std::size_t events = 0;
      event_decisions decided{self, b.decisions};
      auto expected = std::min(st.queue.size(), st.cfg.batch_size);  // no regrowth of 100,000
      touched.reserve(expected);
      b.acks.reserve(expected);
      b.ops.reserve(expected);
      while (!st.queue.empty() && events < st.cfg.batch_size &&
             std::holds_alternative<pending_event>(st.queue.front())) {
        auto& ev = std::get<pending_event>(st.queue.front());
        touched.emplace_back();
        b.acks.push_back(apply_event(self, ev.event(), cs, b.decisions, decided, touched.back()));
        b.ops.push_back(std::move(st.queue.front()));
        st.queue.pop_front();
        ++events;
      }
      st.probe.add("batches");
      st.probe.add("batched_events", static_cast<std::int64_t>(events));
    }
    b.rendered = model::render(cs, st.orch, st.root, st.cfg.multi_budget);
    // Predicted: the state once these multis commit, which the next batch renders against.
    for (auto& r : b.rendered.instances) {
      model::record_committed(r, st.orch);
      st.bytes_in_flight += r.bytes;
      if (r.fate == model::instance_fate::created)
        st.creating.insert(r.id);
    }
    auto multis = multi_of(b.rendered);
    b.ack_after.resize(b.rendered.multis.size() + 1);
    for (std::size_t i = 0; i < b.ops.size(); ++i)
      if (std::holds_alternative<pending_event>(b.ops[i]))
        b.ack_after[step_of(multis, touched[i])].push_back(i);
    b.decisions_after.resize(b.rendered.multis.size() + 1);
    for (std::size_t i = 0; i < b.decisions.size(); ++i) {
      // A decision about one instance is durable with that instance's multi; any other (a
      // move names its source only in the detail) with the whole batch.
      auto& named = b.decisions[i].instance;
      auto step = b.rendered.multis.size();
      if (!named.empty() && !b.orchestrate())
        step = step_of(multis, {static_cast<model::instance_id>(std::strtol(named.c_str(), nullptr, 10))});
      b.decisions_after[step].push_back(i);
    }
    st.in_flight.push_back(std::move(b));
    settle_heads(self);  // a first or empty batch may be settled at once
    if (!st.in_flight.empty() && st.in_flight.back().sent < st.in_flight.back().rendered.multis.size())
      send_multi(self, st.in_flight.back());
  }
  st.probe.set("batches_in_flight", static_cast<std::int64_t>(st.in_flight.size()));
}

std::size_t requeue_in_flight(self_ptr self) {
  auto& st = self->state;
  std::size_t requeued = 0;
  ++st.generation;  // answers still on their way are ignored
  for (auto b = st.in_flight.rbegin(); b != st.in_flight.rend(); ++b)
    for (auto it = b->ops.rbegin(); it != b->ops.rend(); ++it) {
      if (auto* ev = std::get_if<pending_event>(&*it); ev && ev->acked)
        continue;
      if (auto* o = as_orchestrate(*it)) {
        o->plan.reset();  // plan again against what is really there
        o->plan_applied = false;
        o->plan_announced = false;
      }
      st.queue.push_front(std::move(*it));
      ++requeued;
    }
  st.in_flight.clear();
  st.bytes_in_flight = 0;
  st.creating.clear();
  return requeued;
}

void on_committed(self_ptr self, std::uint64_t batch_number, io::zk_rc rc) {
  auto& st = self->state;
  // Answers come in the order sent, so this is the oldest batch with a multi unanswered.
  auto it = std::find_if(st.in_flight.begin(), st.in_flight.end(),
                         [](const batch& b) { return b.committed < b.rendered.multis.size(); });
  if (it == st.in_flight.end() || it->number != batch_number) {
    log_warn(self, "a ZooKeeper answer came out of order (batch " + std::to_string(batch_number) +
                     "): re-reading " + st.root);
    rc = io::zk_connection_loss;
  }
  if (rc == io::zk_ok) {
    auto& b = *it;
    st.probe.observe("zookeeper_multi_duration", clock_type::now() - b.multi_started);
    st.probe.add("multis_committed");
    auto k = b.committed++;
    for (auto i : b.rendered.multis[k]) {
      auto& r = b.rendered.instances[i];
      st.bytes_in_flight -= r.bytes;  // what is left to write
      if (r.fate == model::instance_fate::created)
        st.creating.erase(r.id);
    }
    if (it == st.in_flight.begin())
      settle_until(self, b, k + 2);
    if (b.committed < b.rendered.multis.size()) {
      if (b.committed == b.sent)
        send_multi(self, b);  // the removals, now that the rest is durable
      start_next_batches(self);  // what is left in flight may be low enough for the next
      return;
    }
    st.attempts = 0;
    settle_heads(self);
    announce_instances(self);
    start_next_batches(self);
    return;
  }
  // Someone else wrote (a version or existence check failed), or the outcome is unknown
  // (connection loss): re-read the truth and apply again what is not durable. Re-applying is
  // safe: a create of a placed id and a delete of an unknown id change nothing.
  bool conflict = !io::zk_transient(rc);
  st.probe.add(conflict ? "write_conflicts" : "write_interrupted");
  auto pending = requeue_in_flight(self);
  ++st.attempts;
  log_warn(self, "write failed (" + io::zk_error_text(rc) + "), attempt " +
                   std::to_string(st.attempts) + ": re-reading " + st.root + " and retrying " +
                   std::to_string(pending) + " operations");
  if (st.attempts >= st.cfg.max_attempts) {
    // Something keeps failing (e.g. a payload ZooKeeper refuses): refuse what was in flight
    // rather than block every later event forever. The senders learn it and may resend.
    log::error(st.log_name, "giving up on " + std::to_string(pending) + " operations after " +
                              std::to_string(st.attempts) + " attempts");
    st.probe.add("batches_refused");
    auto err_text = "write to ZooKeeper failed: " + io::zk_error_text(rc);
    std::set<event_group*> refused;
    for (std::size_t n = 0; n < pending && !st.queue.empty(); ++n) {
      auto op = std::move(st.queue.front());
      st.queue.pop_front();
      if (auto* ev = std::get_if<pending_event>(&op)) {
        --st.queued_events;
        if (refused.insert(ev->group.get()).second)
          ev->group->promise.deliver(msg::make_refusal(msg::refusal::unavailable, err_text));
      } else {
        finish_orchestrate(self, *std::get<orchestrate_box>(op), err_text);
      }
    }
    // The rest of a refused group is answered already: drop it from the queue too.
    std::deque<pending_op> kept;
    for (auto& op : st.queue) {
      auto* ev = std::get_if<pending_event>(&op);
      if (ev && refused.count(ev->group.get()))
        --st.queued_events;
      else
        kept.push_back(std::move(op));
    }
    st.queue = std::move(kept);
    st.attempts = 0;
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
  auto waiting = model::take_entry(st.waiters, id);
  if (!waiting)
    return;
  auto w = std::move(*waiting);
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
  // Nothing waits ahead of it, so it is applied now, to the state it was planned against:
  // kept rather than planned again (a second plan of 400,000 ids, ~40 MB more at the peak).
  if (st.queue.empty() && st.in_flight.empty() && st.repairs.empty() && st.loaded && st.connected &&
      !st.fetching)
    op.plan = std::move(std::get<model::orchestrate_plan>(planned));
  op.inventory = std::move(ids);
  op.options = w.options;
  op.promise = w.promise;
  st.queue.push_back(std::make_unique<pending_orchestrate>(std::move(op)));
  start_next_batches(self);
}

}  // namespace iota::actors::orchestrator
