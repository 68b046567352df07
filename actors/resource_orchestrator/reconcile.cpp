// Reconcile (SPEC 9): the inventory against the placed ids. What differs goes through the
// write pipeline as events, so ordering with notifies is kept.
#include <caf/send.hpp>

#include "actors/resource_orchestrator/state.hpp"
#include "io/inventory.hpp"
#include "io/log.hpp"
#include "messages/errors.hpp"
#include "model/reconcile.hpp"

namespace iota::actors::orchestrator {

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
  internal_actor hdl = self;
  st.inventory->load([hdl, id](io::inventory_result r) {
    caf::anon_send(hdl, msg::reconcile_inventory_atom::value, id, std::move(r.ids),
                   r.ok ? std::string{} : (r.error.empty() ? "inventory failed" : r.error));
  });
}

// Notifies accepted while a reconcile's inventory loads (see reconcile_run).
void note_for_reconcile(self_ptr self, const msg::resource_event& ev) {
  auto& st = self->state;
  if (!st.reconciling)
    return;
  if (ev.kind == model::action_kind::create)
    st.reconciling->created_since.insert(ev.ids.begin(), ev.ids.end());
  else if (ev.kind == model::action_kind::destroy)
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
  auto split = [&](model::action_kind kind, const std::vector<std::string>& v) {
    for (std::size_t i = 0; i < v.size(); i += chunk)
      events.push_back(msg::resource_event{
        kind, std::vector<std::string>(v.begin() + static_cast<std::ptrdiff_t>(i),
                                       v.begin() + static_cast<std::ptrdiff_t>(std::min(v.size(), i + chunk))),
        "reconcile"});
  };
  split(model::action_kind::destroy, diff.to_delete);  // frees room first
  split(model::action_kind::create, diff.to_create);
  g->waiting = events.size();
  internal_actor hdl = self;
  auto done = [self, g] {
    if (--g->waiting > 0)
      return;
    auto& st = self->state;
    st.probe.add("reconcile_created", g->report.created);
    st.probe.add("reconcile_deleted", g->report.deleted);
    decide_now(self, new_decision(self, "reconcile", std::nullopt, {}, "reconcile",
                                  "created " + std::to_string(g->report.created) + ", deleted " +
                                    std::to_string(g->report.deleted) +
                                    (g->error.empty() ? std::string{} : "; some changes refused: " + g->error)));
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
    bool create = ev.kind == model::action_kind::create;
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

}  // namespace iota::actors::orchestrator
