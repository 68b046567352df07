#include "actors/instance_supervisor.hpp"

#include "actors/decision_log.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "io/log.hpp"

// The driver's answers, handed back to the supervisor that asked.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(iota::io::driver_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(iota::io::pod_status)

namespace iota::actors {

namespace {

// The public interface plus the driver's answers and the supervisor's own timer, each tagged
// with the operation id it answers (a stale one is ignored).
using internal_actor = msg::supervisor_actor::extend<
  caf::reacts_to<msg::done_atom, std::uint64_t, io::driver_result>,   // a create or delete
  caf::reacts_to<msg::pod_check_atom, std::uint64_t, io::pod_status>, // a pod check
  caf::reacts_to<msg::retry_atom, std::uint64_t>>;

using clock_type = std::chrono::steady_clock;

enum class operation { none, checking, removing, creating, waiting };

struct supervisor_state {
  io::instance_ref ref;
  supervisor_settings cfg;
  std::shared_ptr<io::instance_driver> driver;
  std::string log_name;

  io::pod_phase phase = io::pod_phase::unknown;
  bool heartbeat_seen = false;
  std::int64_t last_heartbeat_ms = 0;
  clock_type::time_point grace_from = clock_type::now();

  operation op = operation::none;
  std::uint64_t op_id = 0;               // tags driver callbacks and timers
  std::optional<msg::restart_cause> pending;  // a restart asked for while busy
  std::string pending_detail;
  bool stopping = false;
  bool ensured = false;                  // the first look at the pod is done

  std::uint32_t restarts = 0;
  std::array<std::uint32_t, 3> by_cause{};
  std::uint32_t consecutive = 0;         // restarts without a stable period in between
  // When the last restart's replacement pod was created: the replacement's lifetime, not the
  // time between restart decisions (which includes the backoff and slow creates), tells a
  // crash loop from a pod that ran stably for a while.
  std::optional<clock_type::time_point> replaced_at;
  static inline const char* name = "instance_supervisor";
};

using self_ptr = internal_actor::stateful_pointer<supervisor_state>;


void begin_restart(self_ptr self, msg::restart_cause cause, const std::string& detail);

// Runs a driver call whose result comes back as a done message tagged with a new op id.
void driver_call(self_ptr self, operation op, bool create) {
  auto& st = self->state;
  st.op = op;
  auto id = ++st.op_id;
  internal_actor hdl = self;
  auto done = [hdl, id](io::driver_result r) { caf::anon_send(hdl, msg::done_atom::value, id, std::move(r)); };
  if (create)
    st.driver->create(st.ref, done);
  else
    st.driver->remove(st.ref, done);
}

void check_pod(self_ptr self) {
  auto& st = self->state;
  if (st.op != operation::none)
    return;
  st.op = operation::checking;
  auto id = ++st.op_id;
  internal_actor hdl = self;
  st.driver->get(st.ref,
                 [hdl, id](io::pod_status s) { caf::anon_send(hdl, msg::pod_check_atom::value, id, std::move(s)); });
}

// What a phase means when no operation of ours explains it.
void react_to_phase(self_ptr self, io::pod_phase p, const std::string& detail) {
  auto& st = self->state;
  if (p == io::pod_phase::unknown && detail.rfind("error: ", 0) == 0) {
    // The driver could not ask (network, 401, 5xx): that says nothing about the pod.
    log::warn(st.log_name, "could not check pod " + st.ref.pod_name() + " (" + detail + ")");
    return;
  }
  st.phase = p;
  if (p != io::pod_phase::missing)
    st.ensured = true;
  switch (p) {
    case io::pod_phase::running:
    case io::pod_phase::pending:
      break;
    case io::pod_phase::missing:
      if (!st.ensured) {  // a new instance (or a daemon start): creating it is no restart
        st.ensured = true;
        log::info(st.log_name, "creating pod " + st.ref.pod_name());
        driver_call(self, operation::creating, true);
        break;
      }
      log::warn(st.log_name, "pod " + st.ref.pod_name() + " is missing; creating it");
      begin_restart(self, msg::restart_cause::missing, "pod " + st.ref.pod_name() + " is missing");
      break;
    default:
      log::warn(st.log_name, "pod " + st.ref.pod_name() + " is " +
                                   std::string{io::to_string(p)} +
                                   (detail.empty() ? "" : " (" + detail + ")") + "; restarting it");
      begin_restart(self, msg::restart_cause::phase,
                    "pod " + st.ref.pod_name() + " is " + std::string{io::to_string(p)} +
                      (detail.empty() ? "" : " (" + detail + ")"));
  }
}

void start_removal(self_ptr self) { driver_call(self, operation::removing, false); }

// SPEC 14: a restart or a backoff, with its cause.
void decide(self_ptr self, const std::string& kind, const std::string& cause, const std::string& detail) {
  auto& st = self->state;
  model::decision d;
  d.resource = st.ref.resource;
  d.kind = kind;
  d.instance = std::to_string(st.ref.id);
  d.cause = cause;
  d.detail = detail;
  record(st.cfg.history.get(), std::move(d));
}

void begin_restart(self_ptr self, msg::restart_cause cause, const std::string& detail) {
  auto& st = self->state;
  if (st.stopping)
    return;
  if (st.op != operation::none && st.op != operation::checking) {
    st.pending = cause;  // one restart at a time; the latest reason wins
    st.pending_detail = detail;
    return;
  }
  auto now = clock_type::now();
  auto stable = std::max(st.cfg.max_backoff, st.cfg.grace_period * 2);
  st.consecutive = (st.replaced_at && now - *st.replaced_at < stable) ? st.consecutive + 1 : 1;
  ++st.restarts;
  ++st.by_cause[static_cast<std::size_t>(cause)];
  std::chrono::milliseconds delay{0};
  if (st.consecutive > 1) {
    auto factor = std::min<std::uint32_t>(st.consecutive - 2, 20);
    delay = std::min<std::chrono::milliseconds>(st.cfg.max_backoff, st.cfg.first_backoff * (std::int64_t{1} << factor));
  }
  log::info(st.log_name, std::string{"restart of instance ["} + std::to_string(st.ref.id) +
                               "] (cause " + msg::to_string(cause) + ", restart " +
                               std::to_string(st.restarts) +
                               (delay.count() ? ", crash-loop backoff " + std::to_string(delay.count()) + " ms"
                                              : "") + ")");
  decide(self, "restart", msg::to_string(cause), detail);
  st.driver->record_event(st.ref, "Restarted",
                          "iota-orchestrator restarts instance [" + std::to_string(st.ref.id) + "] (cause " +
                            msg::to_string(cause) + "): " + detail);
  if (delay.count() > 0) {
    decide(self, "backoff", msg::to_string(cause),
           "restart " + std::to_string(st.consecutive) + " in a row: waiting " + std::to_string(delay.count()) +
             " ms before it");
    st.op = operation::waiting;
    auto id = ++st.op_id;
    self->delayed_send(self, delay, msg::retry_atom::value, id);
    return;
  }
  start_removal(self);
}

// A restart asked for while an operation ran starts once none runs.
void run_pending_restart(self_ptr self) {
  auto& st = self->state;
  if (st.pending && st.op == operation::none) {
    auto cause = *st.pending;
    st.pending.reset();
    begin_restart(self, cause, st.pending_detail);
  }
}

// What follows a create or delete.
void on_done(self_ptr self, io::driver_result::code r, const std::string& detail) {
  auto& st = self->state;
  auto op = st.op;
  st.op = operation::none;
  if (op == operation::removing) {
    if (st.stopping) {
      if (r != io::driver_result::code::ok && r != io::driver_result::code::not_found)
        log::warn(st.log_name, "deleting pod " + st.ref.pod_name() + " failed: " + detail);
      self->quit();
      return;
    }
    if (r == io::driver_result::code::ok || r == io::driver_result::code::not_found) {
      st.phase = io::pod_phase::missing;
      driver_call(self, operation::creating, true);
    } else {
      log::warn(st.log_name, "deleting pod " + st.ref.pod_name() + " failed (" + detail + "); retrying");
      st.op = operation::waiting;
      self->delayed_send(self, st.cfg.retry_delay, msg::retry_atom::value, ++st.op_id);
    }
    return;
  } else if (op == operation::creating) {
    if (r == io::driver_result::code::ok) {
      st.phase = io::pod_phase::pending;
      st.grace_from = clock_type::now();
      if (st.restarts > 0)  // every create after the first one replaces a restarted pod
        st.replaced_at = st.grace_from;
      st.heartbeat_seen = false;
    } else {
      // 409 while the old pod terminates, or an error: try again later, never give up.
      log::info(st.log_name, "creating pod " + st.ref.pod_name() + " did not succeed yet (" +
                                   detail + "); retrying");
      st.op = operation::creating;
      self->delayed_send(self, st.cfg.retry_delay, msg::retry_atom::value, ++st.op_id);
      return;
    }
  }
  run_pending_restart(self);
}

internal_actor::behavior_type supervisor_behavior(self_ptr self, io::instance_ref ref,
                                                         supervisor_settings cfg,
                                                         std::shared_ptr<io::instance_driver> driver) {
  auto& st = self->state;
  st.log_name = "supervisor[" + ref.resource + "/" + std::to_string(ref.id) + "]";
  st.ref = std::move(ref);
  st.cfg = cfg;
  st.driver = std::move(driver);
  check_pod(self);  // ensure it exists: missing -> create, dead -> restart
  return {
    [=](msg::heartbeat_atom, std::int64_t ts_ms) {
      self->state.heartbeat_seen = true;
      self->state.last_heartbeat_ms = ts_ms;
    },
    [=](msg::check_atom) -> msg::check_result {
      auto& st = self->state;
      msg::check_result r;
      r.id = st.ref.id;
      r.silent = !st.heartbeat_seen;
      r.eligible = st.op == operation::none && !st.stopping &&
                   clock_type::now() - st.grace_from >= st.cfg.grace_period;
      st.heartbeat_seen = false;
      return r;
    },
    [=](msg::restart_atom, msg::restart_cause cause) {
      begin_restart(self, cause,
                    cause == msg::restart_cause::heartbeat ? "no heartbeat within the heartbeat period"
                                                           : "asked by the fleet");
    },
    [=](msg::phase_atom, io::pod_phase phase, const std::string& detail) {
      auto& st = self->state;
      if (st.op != operation::none || st.stopping) {
        st.phase = phase == io::pod_phase::missing ? st.phase : phase;
        return;  // our own delete/create explains it
      }
      react_to_phase(self, phase, detail);
    },
    [=](msg::pod_check_atom) { check_pod(self); },
    [=](msg::status_atom) -> msg::instance_health {
      auto& st = self->state;
      msg::instance_health h;
      h.id = st.ref.id;
      h.phase = std::string{io::to_string(st.phase)};
      h.restarts = st.restarts;
      h.restarts_by_cause = st.by_cause;
      h.last_heartbeat_ms = st.last_heartbeat_ms;
      h.in_grace = clock_type::now() - st.grace_from < st.cfg.grace_period;
      return h;
    },
    [=](msg::stop_atom) {
      auto& st = self->state;
      st.stopping = true;
      log::info(st.log_name, "instance removed; deleting pod " + st.ref.pod_name());
      ++st.op_id;  // whatever was in flight no longer matters
      start_removal(self);
    },
    [=](msg::done_atom, std::uint64_t id, const io::driver_result& r) {
      if (id != self->state.op_id)
        return;
      on_done(self, r.status, r.detail);
    },
    [=](msg::pod_check_atom, std::uint64_t id, const io::pod_status& s) {
      auto& st = self->state;
      if (id != st.op_id)
        return;
      st.op = operation::none;
      react_to_phase(self, s.phase, s.detail);
      run_pending_restart(self);
    },
    [=](msg::retry_atom, std::uint64_t id) {
      auto& st = self->state;
      if (id != st.op_id)
        return;
      if (st.op == operation::creating)
        driver_call(self, operation::creating, true);
      else
        start_removal(self);
    },
  };
}

}  // namespace

msg::supervisor_actor spawn_instance_supervisor(caf::actor_system& sys, io::instance_ref instance,
                                                supervisor_settings settings,
                                                std::shared_ptr<io::instance_driver> driver) {
  return caf::actor_cast<msg::supervisor_actor>(
    sys.spawn(supervisor_behavior, std::move(instance), settings, std::move(driver)));
}

}  // namespace iota::actors
