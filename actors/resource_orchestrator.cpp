#include "actors/resource_orchestrator.hpp"

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <unordered_set>
#include <variant>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/probe.hpp"
#include "io/inventory.hpp"
#include "io/log.hpp"
#include "io/zookeeper_store.hpp"
#include "messages/errors.hpp"
#include "model/planner.hpp"
#include "model/reconcile.hpp"
#include "model/zk_layout.hpp"

namespace iota::actors {

namespace {

using clock_type = std::chrono::steady_clock;
using model::orchestration_status;

struct pending_event {
  msg::resource_event event;
  caf::typed_response_promise<msg::event_ack> promise;
};

// An orchestrate or a drain: runs alone in its batch, possibly over several steps.
struct pending_orchestrate {
  bool drain = false;
  model::instance_id victim = 0;
  std::vector<std::string> inventory;
  model::resource_options options;
  std::optional<model::orchestrate_plan> plan;  // made when it reaches the queue's head
  caf::typed_response_promise<orchestration_status> promise;
};

using pending_op = std::variant<pending_event, pending_orchestrate>;

struct batch {
  std::vector<pending_op> ops;
  std::vector<msg::event_ack> acks;  // one per pending_event, in order
  model::rendered_change_set rendered;
  std::size_t sent = 0;              // multis handed to the store
  std::size_t committed = 0;         // multis ZooKeeper acknowledged
  std::size_t moves_left = 0;        // of a throttled orchestrate step
  clock_type::time_point multi_started;
};

// An orchestrate or dry run waiting for its inventory.
struct inventory_waiter {
  bool dry_run = false;
  model::resource_options options;
  caf::typed_response_promise<orchestration_status> promise;
  caf::typed_response_promise<std::string> plan_promise;
};

// A reconcile waiting for its inventory. Ids that notifies create or delete meanwhile are
// remembered: the inventory snapshot may predate them (see model::diff_inventory).
struct reconcile_run {
  std::uint64_t id = 0;
  std::unordered_set<std::string> created_since;
  std::unordered_set<std::string> deleted_since;
  std::vector<caf::typed_response_promise<msg::reconcile_report>> promises;
};

struct orchestrator_state {
  orchestrator_settings cfg;
  std::shared_ptr<io::zookeeper_store> store;
  std::shared_ptr<io::inventory_source> inventory;
  std::string root;
  std::string log_name;

  model::orchestration orch;
  bool connected = false;
  bool loaded = false;      // orch mirrors the znodes; writes may go out
  bool fetching = false;
  std::int64_t session = 0;
  std::int64_t loaded_session = -1;
  std::uint64_t generation = 0;  // tags io requests; a stale reply is ignored
  std::size_t attempts = 0;      // consecutive failures of the batch at the queue's head

  std::deque<pending_op> queue;
  std::size_t queued_events = 0;
  std::optional<batch> in_flight;
  model::change_set repairs;  // from a load: duplicates dropped, unknown counts fixed

  bool orchestrating = false;
  bool orchestrate_success = false;
  std::string last_error;
  std::uint64_t next_waiter = 0;
  std::map<std::uint64_t, inventory_waiter> waiters;

  std::vector<caf::actor> listeners;
  std::set<model::instance_id> announced;  // instances the listeners know of

  // HA (SPEC 10): only the leader writes; a follower answers reads from a fresh fetch.
  bool leader = true;             // false until the leader actor says so, when elected
  std::string fence_path;         // our election znode, checked first in every multi
  std::string leader_data;        // who leads (JSON from the leader's znode)
  bool refetch = false;           // a fetch must start once the one in flight is done
  std::vector<std::function<void()>> reads_current;  // answered when the fetch in flight ends
  std::vector<std::function<void()>> reads_next;     // answered by the fetch after it

  // Reconcile (SPEC 9).
  std::optional<reconcile_run> reconciling;
  std::uint64_t next_reconcile = 0;
  std::int64_t reconciled_session = -1;  // the session after whose load it last ran

  actor_probe probe;
  static inline const char* name = "resource_orchestrator";
};

using self_ptr = msg::orchestrator_actor::stateful_pointer<orchestrator_state>;

void pump(self_ptr self);
void after_load(self_ptr self);
void answer_reads(self_ptr self, std::vector<std::function<void()>>& reads);

void log_info(self_ptr self, const std::string& text) {
  log::info(self->state.log_name, text);
}
void log_warn(self_ptr self, const std::string& text) {
  log::warn(self->state.log_name, text);
}

orchestration_status status_of(self_ptr self) {
  auto& st = self->state;
  auto s = model::snapshot(st.cfg.resource, st.orch);
  s.ready = st.loaded && st.connected;
  s.orchestrating = st.orchestrating;
  s.orchestrate_success = st.orchestrate_success;
  s.last_error = st.last_error;
  s.queued_events = st.queued_events;
  return s;
}

// Tells the listeners which instances appeared or disappeared since they were last told.
void announce_instances(self_ptr self) {
  auto& st = self->state;
  std::set<model::instance_id> now;
  if (st.leader)  // a follower runs no instances: the leader's daemon does (SPEC 10)
    for (auto& [id, _] : st.orch.instances())
      now.insert(id);
  for (auto id : now)
    if (!st.announced.count(id)) {
      log_info(self, "instance [" + std::to_string(id) + "] added");
      for (auto& l : st.listeners)
        caf::anon_send(l, msg::instance_atom::value, st.cfg.resource,
                       static_cast<std::uint8_t>(msg::instance_change::added), id);
    }
  for (auto id : st.announced)
    if (!now.count(id)) {
      log_info(self, "instance [" + std::to_string(id) + "] removed");
      for (auto& l : st.listeners)
        caf::anon_send(l, msg::instance_atom::value, st.cfg.resource,
                       static_cast<std::uint8_t>(msg::instance_change::removed), id);
    }
  st.announced = std::move(now);
}

void fetch(self_ptr self) {
  auto& st = self->state;
  if (st.fetching || !st.connected)
    return;
  st.fetching = true;
  st.loaded = false;
  auto gen = ++st.generation;
  st.probe.add("fetches");
  msg::orchestrator_actor hdl = self;
  auto store = st.store;
  auto root = st.root;
  store->ensure_path(root, [hdl, store, root, gen](io::zk_rc rc) {
    if (rc != io::zk_ok) {
      caf::anon_send(hdl, msg::fetched_atom::value, gen, msg::fetch_result{rc, {}, {}});
      return;
    }
    store->fetch_instances(root, [hdl, gen](io::fetched_instances f) {
      caf::anon_send(hdl, msg::fetched_atom::value, gen,
                     msg::fetch_result{f.rc, std::move(f.instances), std::move(f.problems)});
    });
  });
}

void retry_later(self_ptr self) {
  self->delayed_send(self, self->state.cfg.retry_delay, msg::retry_atom::value,
                     self->state.generation);
}

void on_fetched(self_ptr self, msg::fetch_result& r) {
  auto& st = self->state;
  st.fetching = false;
  bool again = st.refetch && st.connected;  // leadership changed or reads came meanwhile
  st.refetch = false;
  if (r.rc != io::zk_ok) {
    log_warn(self, "reading " + st.root + " failed: " + io::zk_error_text(r.rc) + "; retrying");
    answer_reads(self, st.reads_current);  // from the cache rather than not at all
    if (again) {
      std::swap(st.reads_current, st.reads_next);
      fetch(self);
    } else {
      answer_reads(self, st.reads_next);
      retry_later(self);
    }
    return;
  }
  std::vector<std::string> problems = std::move(r.problems);
  std::vector<model::instance_id> repaired;
  st.orch = model::orchestration::from_instances(std::move(r.instances),
                                                 st.cfg.options.resource_per_instance, &problems,
                                                 &repaired);
  for (auto& p : problems)
    log_warn(self, p);
  st.repairs.clear();
  for (auto id : repaired)
    st.repairs.touch(id, true, true);
  for (auto& [id, inst] : st.orch.instances())
    if (inst.capacity <= 0) {  // undecodable data: give it the default count, write it back
      const_cast<model::instance&>(inst).capacity = st.orch.default_capacity();
      st.repairs.touch(id, true, true);
    }
  if (!st.leader)
    st.repairs.clear();  // a follower writes nothing; the leader repairs on its own load
  st.loaded = true;
  st.loaded_session = st.session;
  answer_reads(self, st.reads_current);
  if (again) {  // this result may predate what we must see: read once more before acting
    std::swap(st.reads_current, st.reads_next);
    fetch(self);
    return;
  }
  st.probe.set("instances", static_cast<std::int64_t>(st.orch.instances().size()));
  st.probe.set("resources", static_cast<std::int64_t>(st.orch.resources()));
  log_info(self, "loaded " + std::to_string(st.orch.instances().size()) + " instances, " +
                   std::to_string(st.orch.resources()) + " resources from " + st.root);
  announce_instances(self);
  after_load(self);
  pump(self);
}

msg::event_ack apply_event(model::orchestration& orch, const msg::resource_event& ev,
                           model::change_set& cs, actor_probe& probe) {
  msg::event_ack ack;
  auto count = [&](bool changed) { ++(changed ? ack.changed : ack.unchanged); };
  switch (ev.kind) {
    case msg::event_kind::create:
      for (auto& id : ev.ids)
        count(model::create_resource(orch, id, cs).outcome != model::create_outcome::already_placed);
      probe.add("creates_applied", ack.changed);
      break;
    case msg::event_kind::destroy:
      for (auto& id : ev.ids)
        count(model::delete_resource(orch, id, cs));
      probe.add("deletes_applied", ack.changed);
      break;
    case msg::event_kind::update:
      for (auto& id : ev.ids)
        count(model::update_resource(orch, id, cs));
      probe.add("updates_applied", ack.changed);
      break;
    case msg::event_kind::reload_all:
      ack.changed = static_cast<std::uint32_t>(model::reload_all(orch, cs));
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
  if (error.empty()) {
    log_info(self, std::string{op.drain ? "drain of instance [" + std::to_string(op.victim) + "]"
                                        : "orchestrate"} +
                     " done: " + std::to_string(st.orch.instances().size()) + " instances, " +
                     std::to_string(st.orch.resources()) + " resources");
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

// --- HA (SPEC 10) -------------------------------------------------------------------------

// Fencing: while elected, every multi starts with a check that our election znode still
// exists. It is ephemeral and sequential, so once our session is gone (or someone removed
// it) it never comes back under that name: a deposed leader's late multi fails whole instead
// of interleaving with the new leader's writes.
bool add_fence(self_ptr self, std::vector<model::zk_op>& ops) {
  auto& st = self->state;
  if (!st.cfg.elected)
    return false;
  model::zk_op check;
  check.type = model::zk_op::kind::check;
  check.path = st.fence_path.empty() ? std::string{"/iota/orchestrator/leader/-none-"}
                                     : st.fence_path;  // no znode: fails, as it must
  check.version = -1;
  ops.push_back(std::move(check));
  return true;
}

// The multi failed on its first op, the fence (results name the failing op).
bool fence_failed(io::zk_rc rc, const std::vector<io::zk_rc>& results) {
  if (rc == io::zk_ok || io::zk_transient(rc) || results.empty())
    return false;
  return results.front() == io::zk_no_node || results.front() == io::zk_bad_version;
}

std::string leader_name(const std::string& data) {
  auto j = nlohmann::json::parse(data, nullptr, false);
  if (!j.is_object())
    return data.empty() ? std::string{} : data;
  std::string daemon = j.value("daemon", std::string{"?"});
  std::string http = j.value("http", std::string{});
  return daemon + (http.empty() ? "" : " at " + http);
}

caf::error not_leader_refusal(self_ptr self) {
  auto& st = self->state;
  auto who = leader_name(st.leader_data);
  return msg::make_refusal(msg::refusal::not_leader,
                           "not the leader of " + st.cfg.resource + "; " +
                             (who.empty() ? std::string{"no leader is elected yet"}
                                          : "the leader is " + who));
}

void answer_reads(self_ptr, std::vector<std::function<void()>>& reads) {
  auto now = std::move(reads);
  reads.clear();
  for (auto& f : now)
    f();
}

// A follower's read: answered after a fetch that starts after the request (the leader
// writes, not us), or at once from the cache when ZooKeeper is unreachable.
void follower_read(self_ptr self, std::function<void()> answer) {
  auto& st = self->state;
  if (!st.connected) {
    answer();
    return;
  }
  if (st.fetching) {
    st.reads_next.push_back(std::move(answer));
    st.refetch = true;
    return;
  }
  st.reads_current.push_back(std::move(answer));
  fetch(self);
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
  msg::orchestrator_actor hdl = self;
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

// Takes the next batch off the queue and starts writing it; loops over batches that
// change nothing (redeliveries), which complete at once.
void pump(self_ptr self) {
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
        log_info(self, std::string{op.drain ? "drain" : "orchestrate"} + ": " +
                         std::to_string(op.plan->target.instances) + " instances of " +
                         std::to_string(op.plan->target.capacity) + ", " +
                         std::to_string(op.plan->moves.size()) + " moves, " +
                         std::to_string(op.plan->added.size()) + " added, " +
                         std::to_string(op.plan->drained.size()) + " drained");
      }
      b.moves_left = model::apply_plan(st.orch, *op.plan, cs, st.cfg.max_moves_per_step);
      b.ops.push_back(std::move(op));
    } else {
      // Everything queued (up to batch_size) goes together: a batch costs what it
      // touches (whole instances), so it grows with the queue while the last one was written.
      while (!st.queue.empty() && b.acks.size() < st.cfg.batch_size &&
             std::holds_alternative<pending_event>(st.queue.front())) {
        auto& ev = std::get<pending_event>(st.queue.front());
        b.acks.push_back(apply_event(st.orch, ev.event, cs, st.probe));
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
  st.probe.observe("multi_latency", clock_type::now() - b.multi_started);
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
    pump(self);
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
      if (auto* o = std::get_if<pending_orchestrate>(&*it))
        o->plan.reset();  // plan again against what is really there
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
  msg::orchestrator_actor hdl = self;
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
  pump(self);
}

// Refuses every queued (and the in-flight) operation: another daemon leads. The in-flight
// multi may still commit; its notifies stay unacknowledged here (the bridge retries them)
// and are idempotent when applied again; what is lost with them is repaired by reconcile.
void refuse_all_not_leader(self_ptr self) {
  auto& st = self->state;
  std::deque<pending_op> ops;
  if (st.in_flight) {
    for (auto& op : st.in_flight->ops)
      ops.push_back(std::move(op));
    st.in_flight.reset();
    ++st.generation;  // its late completion is ignored
  }
  for (auto& op : st.queue)
    ops.push_back(std::move(op));
  st.queue.clear();
  for (auto& op : ops) {
    if (auto* ev = std::get_if<pending_event>(&op)) {
      ev->promise.deliver(not_leader_refusal(self));
      --st.queued_events;
    } else {
      auto& o = std::get<pending_orchestrate>(op);
      st.orchestrating = false;
      o.promise.deliver(not_leader_refusal(self));
    }
  }
  if (!ops.empty())
    log_warn(self, "refused " + std::to_string(ops.size()) + " queued operations: not the leader");
  st.probe.set("queued_events", static_cast<std::int64_t>(st.queued_events));
}

void become_follower(self_ptr self, const std::string& why) {
  auto& st = self->state;
  st.leader = false;
  st.fence_path.clear();
  st.probe.set("leader", 0);
  st.probe.add("leadership_lost");
  log_warn(self, "no longer the leader (" + why + "); writes stop, instances are released, " +
                   "reads continue from ZooKeeper");
  refuse_all_not_leader(self);
  announce_instances(self);  // removes all: the supervisors stop their workers
  st.loaded = false;  // the cache may hold writes that never committed
  st.fetching = false;
  fetch(self);
}

void become_leader(self_ptr self, const std::string& fence_path) {
  auto& st = self->state;
  st.leader = true;
  st.fence_path = fence_path;
  st.reconciled_session = -1;  // reconcile once loaded as leader
  st.probe.set("leader", 1);
  st.probe.add("leadership_gained");
  log_info(self, "leading (election znode " + fence_path + "): re-reading " + st.root +
                   " before writing");
  // Read what the previous leader left, with a fetch that starts now.
  st.loaded = false;
  if (st.fetching)
    st.refetch = true;
  else
    fetch(self);
}

// --- Reconcile (SPEC 9) ---------------------------------------------------------------------

void deliver_report(std::vector<caf::typed_response_promise<msg::reconcile_report>>& ps,
                    const msg::reconcile_report& r) {
  for (auto& p : ps)
    p.deliver(r);
}

void start_reconcile(self_ptr self,
                     std::optional<caf::typed_response_promise<msg::reconcile_report>> rp) {
  auto& st = self->state;
  if (st.reconciling) {  // one at a time; a request joins the one running
    if (rp)
      st.reconciling->promises.push_back(*rp);
    return;
  }
  auto skip = [&](std::string note) {
    st.probe.add("reconciles_skipped");
    log_info(self, "reconcile skipped: " + note);
    msg::reconcile_report r;
    r.skipped = true;
    r.note = std::move(note);
    if (rp)
      rp->deliver(r);
  };
  if (!st.inventory)
    return skip("no inventory configured for " + st.cfg.resource);
  // An empty ZooKeeper means nobody orchestrated yet: creating every inventory id there
  // would be an orchestrate behind the operator's back.
  if (st.orch.empty())
    return skip("no orchestration of " + st.cfg.resource +
                " yet (no instances in ZooKeeper; run orchestrate first)");
  st.reconciling.emplace();
  auto id = st.reconciling->id = ++st.next_reconcile;
  if (rp)
    st.reconciling->promises.push_back(*rp);
  msg::orchestrator_actor hdl = self;
  st.inventory->load([hdl, id](io::inventory_result r) {
    caf::anon_send(hdl, msg::reconcile_atom::value, id, std::move(r.ids),
                   r.ok ? std::string{} : (r.error.empty() ? "inventory failed" : r.error));
  });
}

// Notifies accepted while a reconcile's inventory loads (see reconcile_run).
void note_for_reconcile(self_ptr self, const msg::resource_event& ev) {
  auto& st = self->state;
  if (!st.reconciling)
    return;
  if (ev.kind == msg::event_kind::create)
    st.reconciling->created_since.insert(ev.ids.begin(), ev.ids.end());
  else if (ev.kind == msg::event_kind::destroy)
    st.reconciling->deleted_since.insert(ev.ids.begin(), ev.ids.end());
}

void on_reconcile_inventory(self_ptr self, std::uint64_t id, std::vector<std::string>& ids,
                            const std::string& error) {
  auto& st = self->state;
  if (!st.reconciling || st.reconciling->id != id)
    return;
  auto run = std::move(*st.reconciling);
  st.reconciling.reset();
  if (!error.empty()) {
    st.probe.add("reconcile_failures");
    log_warn(self, "reconcile failed, nothing changed (retried at the next interval): inventory " +
                     st.inventory->describe() + ": " + error);
    for (auto& p : run.promises)
      p.deliver(msg::make_refusal(msg::refusal::unavailable, "inventory: " + error));
    return;
  }
  if (!st.leader) {
    for (auto& p : run.promises)
      p.deliver(not_leader_refusal(self));
    return;
  }
  msg::reconcile_report report;
  report.inventory = static_cast<std::uint32_t>(ids.size());
  if (st.orch.empty()) {
    report.skipped = true;
    report.note = "no orchestration of " + st.cfg.resource + " yet";
    deliver_report(run.promises, report);
    return;
  }
  if (ids.empty()) {
    // An empty inventory while ids are placed is far likelier a wrong query, table or file
    // than a platform without resources: deleting every placement would be the worst answer.
    report.skipped = true;
    report.note = "the inventory is empty while " + std::to_string(st.orch.resources()) +
                  " ids are placed: nothing deleted (check " + st.inventory->describe() + ")";
    st.probe.add("reconciles_skipped");
    log_warn(self, "reconcile skipped: " + report.note);
    deliver_report(run.promises, report);
    return;
  }
  auto diff = model::diff_inventory(ids, st.orch, run.created_since, run.deleted_since);
  st.probe.add("reconciles");
  log_info(self, "reconcile: inventory " + std::to_string(ids.size()) + " ids, placed " +
                   std::to_string(st.orch.resources()) + "; creating " +
                   std::to_string(diff.to_create.size()) + ", deleting " +
                   std::to_string(diff.to_delete.size()));
  if (diff.to_create.empty() && diff.to_delete.empty()) {
    deliver_report(run.promises, report);
    return;
  }
  // Through the normal path, as events queued behind those already received: ordering
  // with notifies is kept, and each chunk is acknowledged once durable.
  struct gather {
    msg::reconcile_report report;
    std::size_t waiting = 0;
    std::string error;
    std::vector<caf::typed_response_promise<msg::reconcile_report>> promises;
  };
  auto g = std::make_shared<gather>();
  g->report = report;
  g->promises = std::move(run.promises);
  constexpr std::size_t chunk = 1000;
  std::vector<msg::resource_event> events;
  auto split = [&](msg::event_kind kind, const std::vector<std::string>& v) {
    for (std::size_t i = 0; i < v.size(); i += chunk)
      events.push_back(msg::resource_event{
        kind, std::vector<std::string>(v.begin() + static_cast<std::ptrdiff_t>(i),
                                       v.begin() + static_cast<std::ptrdiff_t>(std::min(v.size(), i + chunk)))});
  };
  split(msg::event_kind::destroy, diff.to_delete);  // frees room first
  split(msg::event_kind::create, diff.to_create);
  g->waiting = events.size();
  msg::orchestrator_actor hdl = self;
  auto done = [self, g] {
    if (--g->waiting > 0)
      return;
    auto& st = self->state;
    st.probe.add("reconcile_created", g->report.created);
    st.probe.add("reconcile_deleted", g->report.deleted);
    log_info(self, "reconcile done: created " + std::to_string(g->report.created) + ", deleted " +
                     std::to_string(g->report.deleted) +
                     (g->error.empty() ? std::string{} : "; some changes refused: " + g->error));
    if (!g->error.empty()) {
      st.probe.add("reconcile_failures");
      for (auto& p : g->promises)
        p.deliver(msg::make_refusal(msg::refusal::unavailable, "reconcile incomplete: " + g->error));
      return;
    }
    deliver_report(g->promises, g->report);
  };
  for (auto& ev : events) {
    bool create = ev.kind == msg::event_kind::create;
    self->request(hdl, caf::infinite, msg::apply_atom::value, std::move(ev))
      .then(
        [g, create, done](msg::event_ack& a) {
          (create ? g->report.created : g->report.deleted) += a.changed;
          done();
        },
        [g, done](caf::error& e) {
          g->error = msg::refusal_text(e);
          done();
        });
  }
}

// After every successful load: reconcile once per session (the first load, each new
// session, each gain of leadership), as the leader only.
void after_load(self_ptr self) {
  auto& st = self->state;
  if (!st.leader || st.cfg.reconcile_interval.count() <= 0 ||
      st.reconciled_session == st.session)
    return;
  st.reconciled_session = st.session;
  start_reconcile(self, std::nullopt);
}

msg::orchestrator_actor::behavior_type orchestrator_behavior(
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
    self->delayed_send(self, st.cfg.reconcile_interval, msg::reconcile_atom::value,
                       std::uint64_t{0});
  if (st.store->connected()) {
    st.connected = true;
    st.session = st.store->session_id();
    fetch(self);
  }
  return {
    [=](msg::apply_atom, msg::resource_event& ev) -> caf::result<msg::event_ack> {
      auto& st = self->state;
      auto t = st.probe.measure("apply");
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
      pump(self);
      return rp;
    },
    [=](msg::orchestrate_atom, const model::orchestrate_request& req)
      -> caf::result<orchestration_status> {
      auto& st = self->state;
      auto t = st.probe.measure("orchestrate");
      if (!st.leader)
        return not_leader_refusal(self);
      if (st.orchestrating)
        return msg::make_refusal(msg::refusal::busy,
                                 "an orchestrate of " + st.cfg.resource + " is already running");
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
      if (!st.leader)
        return not_leader_refusal(self);
      if (st.orchestrating)
        return msg::make_refusal(msg::refusal::busy,
                                 "an orchestrate of " + st.cfg.resource + " is running");
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
      st.queue.push_back(std::move(op));
      pump(self);
      return rp;
    },
    [=](msg::lookup_atom, const std::string& id) -> caf::result<model::instance_id> {
      auto t = self->state.probe.measure("lookup");
      if (!self->state.leader) {  // the leader writes: read what it wrote
        auto rp = self->make_response_promise<model::instance_id>();
        follower_read(self, [self, rp, id]() mutable {
          if (auto where = self->state.orch.where(id))
            rp.deliver(*where);
          else
            rp.deliver(msg::make_refusal(msg::refusal::not_found,
                                         "resource " + id + " of " + self->state.cfg.resource +
                                           " is on no instance"));
        });
        return rp;
      }
      if (auto where = self->state.orch.where(id))
        return *where;
      return msg::make_refusal(msg::refusal::not_found,
                               "resource " + id + " of " + self->state.cfg.resource +
                                 " is on no instance");
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
    },
    [=](msg::leader_atom) -> msg::leadership {
      auto& st = self->state;
      return msg::leadership{st.leader, st.cfg.elected, st.fence_path, st.leader_data};
    },
    [=](msg::reconcile_atom) -> caf::result<msg::reconcile_report> {
      auto& st = self->state;
      auto t = st.probe.measure("reconcile");
      if (!st.leader)
        return not_leader_refusal(self);
      if (!st.loaded || !st.connected)
        return msg::make_refusal(msg::refusal::unavailable,
                                 st.cfg.resource + " is not loaded from ZooKeeper yet");
      auto rp = self->make_response_promise<msg::reconcile_report>();
      start_reconcile(self, rp);
      return rp;
    },
    [=](msg::reconcile_atom, std::uint64_t) {  // the periodic timer
      auto& st = self->state;
      if (st.leader && st.loaded && st.connected)
        start_reconcile(self, std::nullopt);
      self->delayed_send(self, st.cfg.reconcile_interval, msg::reconcile_atom::value,
                         std::uint64_t{0});
    },
    [=](msg::reconcile_atom, std::uint64_t id, std::vector<std::string>& ids,
        const std::string& error) {
      auto t = self->state.probe.measure("reconcile_inventory");
      on_reconcile_inventory(self, id, ids, error);
    },
    [=](msg::fenced_atom, std::uint64_t gen) {
      auto& st = self->state;
      auto t = st.probe.measure("fenced");
      if (gen != st.generation || !st.in_flight)
        return;
      st.probe.add("writes_fenced");
      log_warn(self, "write refused by ZooKeeper: our election znode " + st.fence_path +
                       " is gone, so another daemon may lead " + st.cfg.resource);
      become_follower(self, "fenced");
    },
    [=](msg::stats_atom) -> msg::actor_stats {
      auto t = self->state.probe.measure("stats");
      return self->state.probe.snapshot(self->mailbox().size());
    },
    [=](msg::register_atom, caf::actor listener) {
      auto& st = self->state;
      st.listeners.push_back(listener);
      for (auto id : st.announced)  // catch the newcomer up
        caf::anon_send(listener, msg::instance_atom::value, st.cfg.resource,
                       static_cast<std::uint8_t>(msg::instance_change::added), id);
    },
    [=](msg::zk_session_atom, int state, std::int64_t session) {
      auto& st = self->state;
      auto t = st.probe.measure("zk_session");
      switch (static_cast<io::session_state>(state)) {
        case io::session_state::connected:
          st.connected = true;
          if (session != st.session)
            st.probe.add("zk_sessions");
          st.session = session;
          if (!st.loaded || st.loaded_session != session)
            fetch(self);  // a new session: rebuild from the znodes before writing again
          else
            pump(self);
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
    },
    [=](msg::fetched_atom, std::uint64_t gen, msg::fetch_result& r) {
      auto t = self->state.probe.measure("fetched");
      if (gen != self->state.generation)
        return;
      on_fetched(self, r);
    },
    [=](msg::committed_atom, std::uint64_t gen, int rc) {
      auto t = self->state.probe.measure("committed");
      if (gen != self->state.generation || !self->state.in_flight)
        return;
      on_committed(self, rc);
    },
    [=](msg::inventory_atom, std::uint64_t id, std::vector<std::string>& ids,
        const std::string& error) {
      auto t = self->state.probe.measure("inventory");
      on_inventory(self, id, ids, error);
    },
    [=](msg::retry_atom, std::uint64_t gen) {
      auto& st = self->state;
      if (gen != st.generation || st.loaded || st.in_flight)
        return;
      fetch(self);
    },
  };
}

}  // namespace

msg::orchestrator_actor spawn_resource_orchestrator(caf::actor_system& sys,
                                                    orchestrator_settings settings,
                                                    std::shared_ptr<io::zookeeper_store> store,
                                                    std::shared_ptr<io::inventory_source> inventory) {
  auto hdl = sys.spawn(orchestrator_behavior, std::move(settings), store, std::move(inventory));
  msg::orchestrator_actor weak = hdl;
  store->add_session_listener([weak](io::session_state s, std::int64_t session) {
    caf::anon_send(weak, msg::zk_session_atom::value, static_cast<int>(s), session);
  });
  return hdl;
}

}  // namespace iota::actors
