#pragma once
// The resource_orchestrator's state and the functions of its roles, one file each:
//   behavior.cpp        the message handlers and spawn
//   load.cpp            reading the znodes and rebuilding the orchestration from them
//   write_pipeline.cpp  events and orchestrates: apply, batch, multis, commit, complete
//   leadership.cpp      fencing, follower reads, becoming leader or follower (SPEC 10)
//   reconcile.cpp       the inventory against the placed ids (SPEC 9)
// Private to actors/resource_orchestrator/: nothing outside includes it.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <variant>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/probe.hpp"
#include "actors/resource_orchestrator.hpp"
#include "io/zookeeper_store.hpp"
#include "model/change_set.hpp"
#include "model/decision_history.hpp"
#include "model/instance_znodes.hpp"
#include "model/planner.hpp"

namespace iota::io {
class inventory_source;
}

// Local only: never serialized, so no inspect() is needed.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(iota::model::fetched_instances)

namespace iota::actors::orchestrator {

// The public interface plus the replies of its io and its own timers, which only the actor
// sends to itself.
using internal_actor = msg::orchestrator_actor::extend<
  caf::reacts_to<msg::zk_session_atom, io::session_state, std::int64_t>,
  caf::reacts_to<msg::fetched_atom, std::uint64_t, model::fetched_instances>,
  caf::reacts_to<msg::committed_atom, std::uint64_t, std::uint64_t, int>,
  caf::reacts_to<msg::inventory_atom, std::uint64_t, std::vector<std::string>, std::string>,
  caf::reacts_to<msg::retry_atom, std::uint64_t>,
  caf::reacts_to<msg::reconcile_tick_atom>,
  caf::reacts_to<msg::reconcile_inventory_atom, std::uint64_t, std::vector<std::string>,
                 std::string>,
  caf::reacts_to<msg::fenced_atom, std::uint64_t>,
  caf::reacts_to<msg::startup_atom>>;

using clock_type = std::chrono::steady_clock;

// The events of one apply message share its promise, answered once the last is durable.
struct event_group {
  caf::typed_response_promise<msg::event_ack> promise;
  std::size_t left = 0;  // events not yet acknowledged
  msg::event_ack ack;    // their sum so far
};

struct pending_event {
  msg::event_batch events;  // shared with the sender; this is events[index]
  std::uint32_t index = 0;
  std::shared_ptr<event_group> group;
  const msg::resource_event& event() const { return (*events)[index]; }
  bool acked = false;  // durable and counted in its group (a retry must not apply it again)
};

// An orchestrate or a drain: runs alone in its batch, possibly over several steps.
struct pending_orchestrate {
  pending_orchestrate() = default;
  pending_orchestrate(pending_orchestrate&&) = default;
  pending_orchestrate& operator=(pending_orchestrate&&) = default;
  pending_orchestrate(const pending_orchestrate&) = delete;  // see inventory
  pending_orchestrate& operator=(const pending_orchestrate&) = delete;
  bool drain = false;
  model::instance_id victim = 0;
  std::vector<std::string> inventory;  // the plan's placements view it: moved, never copied
  model::resource_options options;
  std::optional<model::orchestrate_plan> plan;  // made when it reaches the queue's head
  bool plan_applied = false;                    // its first step ran (its decisions are made)
  bool plan_announced = false;                  // its plan was logged and recorded as started
  caf::typed_response_promise<model::orchestration_status> promise;
};

// Boxed: an orchestrate (its plan, inventory and promise) is ~230 bytes more than an event, and
// every queued event would carry that room (a burst of 100,000 held 28 MB of it, twice).
using orchestrate_box = std::unique_ptr<pending_orchestrate>;
using pending_op = std::variant<pending_event, orchestrate_box>;
inline pending_orchestrate* as_orchestrate(pending_op& op) {
  auto* box = std::get_if<orchestrate_box>(&op);
  return box ? box->get() : nullptr;
}
inline bool is_orchestrate(const pending_op& op) { return std::holds_alternative<orchestrate_box>(op); }

// Written in order: ZooKeeper applies one session's multis in the order sent and answers them
// in that order, so the k-th answer of a batch is its k-th multi and every earlier batch is
// durable by then. Versions are predicted when a batch is rendered, so the next batch can be
// applied and sent while this one is in flight (see write_pipeline.cpp).
struct batch {
  std::uint64_t number = 0;
  std::vector<pending_op> ops;
  std::vector<msg::event_ack> acks;  // one per pending_event, in order
  // Events by the multi that makes them durable: [0] needs none of this batch's multis (only
  // the earlier batches), [k + 1] needs multis 0..k. Indices into `ops`.
  std::vector<std::vector<std::size_t>> ack_after;
  std::vector<std::vector<std::size_t>> decisions_after;  // the same for `decisions`
  model::rendered_change_set rendered;
  std::size_t sent = 0;              // multis handed to the store
  std::size_t committed = 0;         // multis ZooKeeper acknowledged
  std::size_t settled = 0;           // steps of ack_after / decisions_after settled
  std::size_t moves_left = 0;        // of a throttled orchestrate step
  clock_type::time_point multi_started;
  std::vector<model::decision> decisions;  // numbered when applied, recorded once durable
  // An orchestrate or drain step: it runs alone in its batch.
  bool orchestrate() const { return !ops.empty() && is_orchestrate(ops.front()); }
};

// An orchestrate or dry run waiting for its inventory.
struct inventory_waiter {
  bool dry_run = false;
  model::resource_options options;
  caf::typed_response_promise<model::orchestration_status> promise;
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
  std::deque<batch> in_flight;       // oldest first
  std::uint64_t next_batch = 0;
  std::size_t bytes_in_flight = 0;  // rendered bytes of the multis not committed yet
  std::set<model::instance_id> creating;  // created by a batch in flight: not announced yet
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

  // Start-up (SPEC 10): until the first election and load are decided, writes wait here and
  // are re-sent to ourselves once they are (or once cfg.startup_wait has passed).
  bool started = false;
  std::vector<std::function<void()>> startup_writes;

  // Reconcile (SPEC 9).
  std::optional<reconcile_run> reconciling;
  std::uint64_t next_reconcile = 0;
  std::int64_t reconciled_session = -1;  // the session after whose load it last ran

  actor_probe probe;
  static inline const char* name = "resource_orchestrator";
};

using self_ptr = internal_actor::stateful_pointer<orchestrator_state>;

void log_info(self_ptr self, const std::string& text);
void log_warn(self_ptr self, const std::string& text);

// load.cpp
model::orchestration_status status_of(self_ptr self);
void announce_instances(self_ptr self);
void announce_to(self_ptr self, const caf::actor& listener);
void fetch(self_ptr self);
void retry_later(self_ptr self);
void on_fetched(self_ptr self, model::fetched_instances& read);

// decisions.cpp (SPEC 14)
model::decision new_decision(self_ptr self, const std::string& kind, std::optional<model::instance_id> instance,
                             const std::vector<std::string>& ids, const std::string& cause,
                             const std::string& detail);
void decide_now(self_ptr self, model::decision d);
// One more id the decision touched: counted, listed while the list is short, and with `stamp`
// stamped with the decision (what the lookup of that id answers).
void count_in_decision(self_ptr self, model::decision& d, std::string_view id, bool stamp);
void record_decisions(self_ptr self, std::vector<model::decision>& decisions);
// One decision per instance; with `stamp`, its ids are stamped with it.
void decide_placements(self_ptr self, const std::string& kind,
                       const std::map<model::instance_id, std::vector<std::string>>& by_instance,
                       const std::string& cause, const std::string& detail, bool stamp,
                       std::vector<model::decision>& out);
// An applied plan's decisions; `removed_from`: where its removals were before it applied.
void decide_plan(self_ptr self, const model::orchestrate_plan& plan, const std::string& cause,
                 const std::map<model::instance_id, std::vector<std::string>>& removed_from,
                 std::vector<model::decision>& out);

// write_pipeline.cpp
caf::result<msg::event_ack> accept_event(self_ptr self, msg::resource_event& ev);
caf::result<msg::event_ack> accept_events(self_ptr self, msg::event_batch evs);
void start_next_batches(self_ptr self);
void on_committed(self_ptr self, std::uint64_t batch_number, io::zk_rc rc);
// Puts what is in flight back at the queue's head (what is not yet durable), to be applied
// again once the znodes are re-read; answers that come later are ignored.
std::size_t requeue_in_flight(self_ptr self);  // how many operations
void load_inventory(self_ptr self, inventory_waiter w);
void on_inventory(self_ptr self, std::uint64_t id, std::vector<std::string>& ids,
                  const std::string& error);

// leadership.cpp
bool add_fence(self_ptr self, std::vector<model::zk_op>& ops);
bool fence_failed(io::zk_rc rc, const std::vector<io::zk_rc>& results);
std::string leader_name(const std::string& data);
caf::error not_leader_refusal(self_ptr self);
// Runs (and clears) what waited for a moment: reads for a fetch, writes for start-up.
void run_waiting(std::vector<std::function<void()>>& waiting);
void follower_read(self_ptr self, std::function<void()> answer);
void become_follower(self_ptr self, const std::string& why);
void become_leader(self_ptr self, const std::string& fence_path);
void check_started(self_ptr self);
void end_startup_wait(self_ptr self);

// Before start-up is decided (see orchestrator_state::started) a write waits: returns the
// promise it will be answered through (its request is re-sent to us with its original sender
// once start-up is decided), or nothing when the write can be handled now.
template <class T, class... Ts>
std::optional<caf::typed_response_promise<T>> wait_for_startup(self_ptr self, Ts... request) {
  auto& st = self->state;
  if (st.started)
    return std::nullopt;
  auto rp = self->make_response_promise<T>();
  st.startup_writes.push_back(
    [self, rp, request...]() mutable { rp.delegate(caf::actor_cast<internal_actor>(self), request...); });
  return rp;
}

// reconcile.cpp
void start_reconcile(self_ptr self,
                     std::optional<caf::typed_response_promise<msg::reconcile_report>> rp);
void note_for_reconcile(self_ptr self, const msg::resource_event& ev);
void on_reconcile_inventory(self_ptr self, std::uint64_t id, std::vector<std::string>& ids,
                            const std::string& error);
void after_load(self_ptr self);

}  // namespace iota::actors::orchestrator
