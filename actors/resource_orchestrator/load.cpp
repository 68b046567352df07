// Reading a resource root's znodes and rebuilding the orchestration from them: the cache is
// only trusted after a load in the current session.
#include <caf/send.hpp>

#include "actors/resource_orchestrator/state.hpp"
#include "io/log.hpp"
#include "messages/liveness.hpp"

namespace iota::actors::orchestrator {

void log_info(self_ptr self, const std::string& text) {
  log::info(self->state.log_name, text);
}

void log_warn(self_ptr self, const std::string& text) {
  log::warn(self->state.log_name, text);
}

model::orchestration_status status_of(self_ptr self) {
  auto& st = self->state;
  auto s = model::snapshot(st.cfg.resource, st.orch);
  s.ready = st.loaded && st.connected;
  s.orchestrating = st.orchestrating;
  s.orchestrate_success = st.orchestrate_success;
  s.last_error = st.last_error;
  s.queued_events = st.queued_events;
  return s;
}

namespace {

void tell(self_ptr self, const caf::actor& listener, msg::instance_change change,
          model::instance_id id) {
  caf::anon_send(listener, msg::instance_atom::value, self->state.cfg.resource, change, id);
}

}  // namespace

// Tells the listeners which instances appeared or disappeared since they were last told.
void announce_instances(self_ptr self) {
  auto& st = self->state;
  std::set<model::instance_id> now;
  if (st.leader)  // a follower runs no instances: the leader's daemon does (SPEC 10)
    for (auto& [id, _] : st.orch.instances())
      if (!st.creating.count(id))  // its znodes are not written yet
        now.insert(id);
  for (auto id : now)
    if (!st.announced.count(id)) {
      log_info(self, "instance [" + std::to_string(id) + "] added");
      for (auto& l : st.listeners)
        tell(self, l, msg::instance_change::added, id);
    }
  for (auto id : st.announced)
    if (!now.count(id)) {
      log_info(self, "instance [" + std::to_string(id) + "] removed");
      for (auto& l : st.listeners)
        tell(self, l, msg::instance_change::removed, id);
    }
  st.announced = std::move(now);
}

// A listener registered late is caught up with what the others know.
void announce_to(self_ptr self, const caf::actor& listener) {
  for (auto id : self->state.announced)
    tell(self, listener, msg::instance_change::added, id);
}

void fetch(self_ptr self) {
  auto& st = self->state;
  if (st.fetching || !st.connected)
    return;
  if (!st.in_flight.empty())
    requeue_in_flight(self);  // re-applied against what the read finds
  st.fetching = true;
  st.loaded = false;
  auto gen = ++st.generation;
  st.probe.add("fetches");
  internal_actor hdl = self;
  auto store = st.store;
  auto root = st.root;
  store->ensure_path(root, [hdl, store, root, gen](io::zk_rc rc) {
    if (rc != io::zk_ok) {
      model::fetched_instances failed;
      failed.rc = rc;
      caf::anon_send(hdl, msg::fetched_atom::value, gen, std::move(failed));
      return;
    }
    store->fetch_instances(root, [hdl, gen](model::fetched_instances read) {
      caf::anon_send(hdl, msg::fetched_atom::value, gen, std::move(read));
    });
  });
}

void retry_later(self_ptr self) {
  self->delayed_send(self, self->state.cfg.retry_delay, msg::retry_atom::value,
                     self->state.generation);
}

void on_fetched(self_ptr self, model::fetched_instances& read) {
  auto& st = self->state;
  st.fetching = false;
  bool again = st.refetch && st.connected;  // leadership changed or reads came meanwhile
  st.refetch = false;
  if (read.rc != io::zk_ok) {
    log_warn(self, "reading " + st.root + " failed: " + io::zk_error_text(read.rc) + "; retrying");
    run_waiting(st.reads_current);  // from the cache rather than not at all
    if (again) {
      std::swap(st.reads_current, st.reads_next);
      fetch(self);
    } else {
      run_waiting(st.reads_next);
      retry_later(self);
    }
    return;
  }
  std::vector<std::string> problems = std::move(read.problems);
  std::vector<model::instance_id> repaired;
  st.orch = model::orchestration::from_instances(std::move(read.instances),
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
  else if (!problems.empty())
    decide_now(self, new_decision(self, "removed", std::nullopt, {}, "load repair",
                                  std::to_string(problems.size()) + " problem(s) repaired, e.g. " + problems.front()));
  st.loaded = true;
  st.loaded_session = st.session;
  run_waiting(st.reads_current);
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
  start_next_batches(self);
  check_started(self);
}

}  // namespace iota::actors::orchestrator
