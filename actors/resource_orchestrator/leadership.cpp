// Leadership (SPEC 10): only the leader writes, and every multi it sends is fenced by its
// election znode; a follower answers reads from a fetch that starts after the request.
#include <nlohmann/json.hpp>

#include "actors/resource_orchestrator/state.hpp"
#include "messages/errors.hpp"
#include "model/zk_layout.hpp"

namespace iota::actors::orchestrator {

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
  check.path = st.fence_path.empty() ? std::string{model::absent_fence_path}
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

void run_waiting(std::vector<std::function<void()>>& waiting) {
  auto now = std::move(waiting);
  waiting.clear();
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

namespace {

// Refuses every queued (and the in-flight) operation: another daemon leads. The in-flight
// multi may still commit; its notifies stay unacknowledged here (the bridge retries them)
// and are idempotent when applied again; what is lost with them is repaired by reconcile.
void refuse_all_not_leader(self_ptr self) {
  auto& st = self->state;
  requeue_in_flight(self);  // its late completions are ignored
  std::deque<pending_op> ops = std::move(st.queue);
  st.queue.clear();
  std::set<event_group*> refused;
  for (auto& op : ops) {
    if (auto* ev = std::get_if<pending_event>(&op)) {
      if (refused.insert(ev->group.get()).second)
        ev->group->promise.deliver(not_leader_refusal(self));
      --st.queued_events;
    } else {
      auto& o = *std::get<orchestrate_box>(op);
      st.orchestrating = false;
      o.promise.deliver(not_leader_refusal(self));
    }
  }
  if (!ops.empty())
    log_warn(self, "refused " + std::to_string(ops.size()) + " queued operations: not the leader");
  st.probe.set("queued_events", static_cast<std::int64_t>(st.queued_events));
}

}  // namespace

void become_follower(self_ptr self, const std::string& why) {
  auto& st = self->state;
  st.leader = false;
  st.fence_path.clear();
  st.probe.set("leader", 0);
  st.probe.add("leadership_lost");
  log_warn(self, "no longer the leader (" + why + "); writes stop, instances are released, " +
                   "reads continue from ZooKeeper");
  auto who = leader_name(st.leader_data);
  decide_now(self, new_decision(self, "leadership", std::nullopt, {}, "lost",
                                why + (who.empty() ? std::string{} : "; the leader is " + who)));
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
  decide_now(self, new_decision(self, "leadership", std::nullopt, {}, "gained", "election znode " + fence_path));
  // Read what the previous leader left, with a fetch that starts now.
  st.loaded = false;
  if (st.fetching)
    st.refetch = true;
  else
    fetch(self);
}

// Start-up is decided once this daemon leads and has loaded the orchestration, or follows a
// leader it can name; the writes that waited for it are then handled in arrival order.
void check_started(self_ptr self) {
  auto& st = self->state;
  if (st.started)
    return;
  if (st.leader ? !st.loaded : st.leader_data.empty())
    return;
  st.started = true;
  run_waiting(st.startup_writes);
}

// The start-up wait is over undecided: waiting writes are answered as things stand (a
// refusal naming what is missing), and later ones no longer wait.
void end_startup_wait(self_ptr self) {
  auto& st = self->state;
  if (st.started)
    return;
  st.started = true;
  if (!st.startup_writes.empty())
    log_warn(self, std::to_string(st.startup_writes.size()) + " writes waited " +
                     std::to_string(st.cfg.startup_wait.count()) + " ms for the election and load; answering them now");
  run_waiting(st.startup_writes);
}

}  // namespace iota::actors::orchestrator
