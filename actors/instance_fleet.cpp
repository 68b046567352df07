#include "actors/instance_fleet.hpp"

#include <map>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/probe.hpp"
#include "io/log.hpp"
#include "messages/orchestrator.hpp"

namespace iota::actors {

namespace {

struct fleet_state {
  fleet_settings cfg;
  std::shared_ptr<io::instance_driver> driver;
  std::map<int, msg::supervisor_actor> supervisors;
  bool maintenance = false;
  actor_probe probe;
  static inline const char* name = "instance_fleet";
};

using self_ptr = msg::fleet_actor::stateful_pointer<fleet_state>;

msg::fleet_actor::behavior_type fleet_behavior(self_ptr self, fleet_settings cfg,
                                               std::shared_ptr<io::instance_driver> driver) {
  auto& st = self->state;
  st.probe.rename("instance_fleet/" + cfg.resource);
  st.cfg = std::move(cfg);
  st.driver = std::move(driver);
  self->set_exit_handler([self](caf::exit_msg& em) {
    // Supervisors stop with the fleet; the pods stay (a daemon restart must not kill the
    // fleet: the next daemon finds them running).
    for (auto& [_, s] : self->state.supervisors)
      self->send_exit(s, em.reason);
    self->quit(em.reason);
  });
  return {
    [=](msg::instance_atom, const std::string&, msg::instance_change change, int id) {
      auto& st = self->state;
      auto t = st.probe.measure("instance");
      if (change == msg::instance_change::added) {
        if (st.supervisors.count(id))
          return;
        io::instance_ref ref{st.cfg.resource, st.cfg.instance_name, id};
        st.supervisors.emplace(id, spawn_instance_supervisor(self->system(), ref, st.cfg.supervisor, st.driver));
        st.probe.add("supervisors_started");
      } else {
        auto it = st.supervisors.find(id);
        if (it == st.supervisors.end())
          return;
        self->send(it->second, msg::stop_atom::value);  // deletes the pod, then quits
        st.supervisors.erase(it);
        st.probe.add("supervisors_stopped");
      }
      st.probe.set("instances", static_cast<std::int64_t>(st.supervisors.size()));
    },
    [=](msg::heartbeat_atom, int id, std::int64_t ts_ms) {
      auto& st = self->state;
      auto it = st.supervisors.find(id);
      if (it == st.supervisors.end()) {
        st.probe.add("heartbeats_unknown_instance");
        return;
      }
      st.probe.add("heartbeats");
      self->send(it->second, msg::heartbeat_atom::value, ts_ms);
    },
    [=](msg::phase_atom, int id, model::pod_phase phase, const std::string& detail) {
      auto& st = self->state;
      auto it = st.supervisors.find(id);
      if (it != st.supervisors.end())
        self->send(it->second, msg::phase_atom::value, phase, detail);
    },
    [=](msg::pod_check_atom) {
      for (auto& [_, s] : self->state.supervisors)
        self->send(s, msg::pod_check_atom::value);
    },
    [=](msg::check_atom) -> caf::result<std::vector<msg::check_result>> {
      auto& st = self->state;
      auto t = st.probe.measure("check");
      auto rp = self->make_response_promise<std::vector<msg::check_result>>();
      struct gather {
        std::vector<msg::check_result> results;
        std::size_t waiting = 0;
      };
      auto g = std::make_shared<gather>();
      g->waiting = st.supervisors.size();
      if (g->waiting == 0) {
        rp.deliver(std::vector<msg::check_result>{});
        return rp;
      }
      for (auto& [id, s] : st.supervisors) {
        self->request(s, std::chrono::seconds{10}, msg::check_atom::value)
          .then(
            [=](msg::check_result& r) mutable {
              g->results.push_back(r);
              if (--g->waiting == 0)
                rp.deliver(std::move(g->results));
            },
            [=](caf::error&) mutable {
              if (--g->waiting == 0)
                rp.deliver(std::move(g->results));
            });
      }
      return rp;
    },
    [=](msg::restart_atom, int id, msg::restart_cause cause) {
      auto& st = self->state;
      auto it = st.supervisors.find(id);
      if (it == st.supervisors.end())
        return;
      st.probe.add((std::string{"restarts_"} + msg::to_string(cause)).c_str());
      self->send(it->second, msg::restart_atom::value, cause);
    },
    [=](msg::maintenance_atom, bool on) {
      self->state.maintenance = on;
      self->state.probe.set("maintenance", on ? 1 : 0);
    },
    [=](msg::status_atom) -> caf::result<std::vector<msg::instance_health>> {
      auto& st = self->state;
      auto rp = self->make_response_promise<std::vector<msg::instance_health>>();
      struct gather {
        std::vector<msg::instance_health> health;
        std::size_t waiting = 0;
      };
      auto g = std::make_shared<gather>();
      g->waiting = st.supervisors.size();
      bool maintenance = st.maintenance;
      if (g->waiting == 0) {
        rp.deliver(std::vector<msg::instance_health>{});
        return rp;
      }
      for (auto& [id, s] : st.supervisors) {
        self->request(s, std::chrono::seconds{5}, msg::status_atom::value)
          .then(
            [=](msg::instance_health& h) mutable {
              h.maintenance = maintenance;
              g->health.push_back(std::move(h));
              if (--g->waiting == 0)
                rp.deliver(std::move(g->health));
            },
            [=](caf::error&) mutable {
              if (--g->waiting == 0)
                rp.deliver(std::move(g->health));
            });
      }
      return rp;
    },
    [=](msg::stats_atom) -> msg::actor_stats {
      return self->state.probe.snapshot(mailbox_depth(self));
    },
  };
}

}  // namespace

msg::fleet_actor spawn_instance_fleet(caf::actor_system& sys, fleet_settings settings,
                                      std::shared_ptr<io::instance_driver> driver) {
  return sys.spawn(fleet_behavior, std::move(settings), std::move(driver));
}

}  // namespace iota::actors
