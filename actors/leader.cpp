#include "actors/leader.hpp"

#include <algorithm>
#include <cctype>
#include <random>

#include <unistd.h>

#include <future>

#include <caf/scoped_actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/probe.hpp"
#include "io/log.hpp"
#include "io/zookeeper_store.hpp"

namespace iota::actors {

namespace {

// What one asynchronous ZooKeeper call of an election came back with.
enum class step : std::uint8_t { created, children, leader_data, watched, fired, removed, retry };

// The public interface plus what only the actor sends itself: session events, io results
// (type index, generation, step, rc, text, list) and the disconnect timer.
using internal_actor = msg::leader_actor::extend<
  caf::reacts_to<msg::zk_session_atom, io::session_state, std::int64_t>,
  caf::reacts_to<msg::election_atom, std::uint64_t, std::uint64_t, step, int, std::string,
                 std::vector<std::string>>,
  caf::reacts_to<msg::retry_atom, std::uint64_t>>;

struct election {
  std::string resource;
  std::string parent;          // /iota/orchestrator/leader/<R>
  std::string node;            // our znode's full path; "" = none
  std::int64_t node_session = 0;
  bool creating = false;
  bool resigning = false;
  std::uint64_t gen = 0;       // bumps per check: a stale answer or watch is ignored
  bool checked = false;        // leading/leader_name reflect a completed check
  bool leading = false;
  std::string leader_name;     // the lowest znode's name
  std::string leader_data;
  bool sent = false;
  msg::leadership last_sent;
  msg::orchestrator_actor orchestrator;
};

struct leader_state {
  leader_settings cfg;
  std::shared_ptr<io::zookeeper_store> store;
  std::vector<election> elections;
  bool connected = false;
  std::int64_t session = 0;
  std::uint64_t disconnects = 0;  // tags the disconnect timer
  bool leads_all = false;
  bool leads_all_known = false;
  bool suspended = false;
  actor_probe probe{"leader"};
  static inline const char* name = "leader";
};

using self_ptr = internal_actor::stateful_pointer<leader_state>;

void check(self_ptr self, std::size_t i);

std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// "n_<token>_<seq>" -> seq (10 digits); -1 if not ours to order.
long long seq_of(const std::string& name) {
  auto pos = name.rfind('_');
  if (name.rfind("n_", 0) != 0 || pos == std::string::npos || pos + 1 >= name.size())
    return -1;
  try {
    return std::stoll(name.substr(pos + 1));
  } catch (...) {
    return -1;
  }
}

std::string token_of(const std::string& name) {
  auto pos = name.rfind('_');
  if (name.rfind("n_", 0) != 0 || pos == std::string::npos || pos < 2)
    return {};
  return name.substr(2, pos - 2);
}

std::string prefix(self_ptr self) { return "n_" + self->state.cfg.token + "_"; }

void send_step(internal_actor hdl, std::size_t i, std::uint64_t gen, step s, int rc,
               std::string text = {}, std::vector<std::string> list = {}) {
  caf::anon_send(hdl, msg::election_atom::value, static_cast<std::uint64_t>(i), gen,
                 s, rc, std::move(text), std::move(list));
}

void retry_later(self_ptr self, std::size_t i) {
  auto& e = self->state.elections[i];
  self->delayed_send(self, self->state.cfg.retry_delay, msg::election_atom::value,
                     static_cast<std::uint64_t>(i), e.gen, step::retry,
                     0, std::string{}, std::vector<std::string>{});
}

void update_leads_all(self_ptr self) {
  auto& st = self->state;
  bool all = !st.elections.empty();
  for (auto& e : st.elections)
    all = all && e.leading;
  if (st.leads_all_known && all == st.leads_all)
    return;
  st.leads_all_known = true;
  st.leads_all = all;
  st.probe.set("leads_all", all ? 1 : 0);
  if (st.cfg.on_leads_all)
    st.cfg.on_leads_all(all);
}

// Tells the orchestrator what changed (and the daemon, through update_leads_all).
void publish(self_ptr self, std::size_t i) {
  auto& st = self->state;
  auto& e = st.elections[i];
  msg::leadership l{e.leading, true, e.leading ? e.node : std::string{}, e.leader_data};
  bool changed = !e.sent || l.leader != e.last_sent.leader || l.fence_path != e.last_sent.fence_path ||
                 l.leader_data != e.last_sent.leader_data;
  if (changed) {
    if (!e.sent || l.leader != e.last_sent.leader) {
      st.probe.add(("leader_changes_" + e.resource).c_str());
      log::info("leader[" + e.resource + "]",
                    l.leader ? "this daemon leads " + e.resource + " (" + e.node + ")"
                             : "following for " + e.resource + "; leader: " +
                                 (l.leader_data.empty() ? std::string{"unknown"} : l.leader_data));
    }
    e.sent = true;
    e.last_sent = l;
    if (e.orchestrator)
      caf::anon_send(e.orchestrator, msg::leader_atom::value, l);
  }
  st.probe.set(("leader_" + e.resource).c_str(), e.leading ? 1 : 0);
  update_leads_all(self);
}

void step_down(self_ptr self, std::size_t i, const std::string& why) {
  auto& e = self->state.elections[i];
  if (e.leading)
    log::warn("leader[" + e.resource + "]", "stepping down: " + why);
  e.leading = false;
  e.checked = false;
  ++e.gen;
  publish(self, i);
}

// Creates our znode (after the parent path), then checks.
void join(self_ptr self, std::size_t i) {
  auto& st = self->state;
  auto& e = st.elections[i];
  if (e.creating || !st.connected)
    return;
  e.creating = true;
  e.node.clear();
  auto gen = ++e.gen;
  st.probe.add(("elections_" + e.resource).c_str());
  internal_actor hdl = self;
  auto store = st.store;
  auto path = e.parent + "/" + prefix(self);
  auto data = st.cfg.data;
  auto session = st.session;
  store->ensure_path(e.parent, [hdl, i, gen, store, path, data, session](io::zk_rc rc) {
    if (rc != io::zk_ok) {
      send_step(hdl, i, gen, step::created, rc);
      return;
    }
    store->create(path, data, io::ephemeral | io::sequential,
                  [hdl, i, gen, session](io::zk_rc rc2, std::string created) {
                    send_step(hdl, i, gen, step::created, rc2, std::move(created),
                              {std::to_string(session)});
                  });
  });
}

void check(self_ptr self, std::size_t i) {
  auto& st = self->state;
  auto& e = st.elections[i];
  if (!st.connected || e.creating)
    return;
  if (e.node.empty()) {
    join(self, i);
    return;
  }
  auto gen = ++e.gen;
  internal_actor hdl = self;
  st.store->children(e.parent, [hdl, i, gen](io::zk_rc rc, std::vector<std::string> names) {
    send_step(hdl, i, gen, step::children, rc, {}, std::move(names));
  });
}

void watch(self_ptr self, std::size_t i, const std::string& path, bool react_to_absence) {
  auto& e = self->state.elections[i];
  auto gen = e.gen;
  internal_actor hdl = self;
  self->state.store->watch(
    path,
    [hdl, i, gen, react_to_absence](io::zk_rc rc, bool exists) {
      if (rc != io::zk_ok || (!exists && react_to_absence))
        send_step(hdl, i, gen, step::watched, rc);
    },
    [hdl, i, gen](int) { send_step(hdl, i, gen, step::fired, 0); });
}

void on_children(self_ptr self, std::size_t i, std::vector<std::string>& names) {
  auto& st = self->state;
  auto& e = st.elections[i];
  auto mine = base_name(e.node);
  std::vector<std::pair<long long, std::string>> ordered;
  for (auto& n : names) {
    auto s = seq_of(n);
    if (s < 0)
      continue;
    if (n != mine && n.rfind(prefix(self), 0) == 0) {
      // Ours from a create whose outcome was unknown: it would hold a place in the queue
      // for as long as our session lives.
      log::warn("leader[" + e.resource + "]", "removing a leftover election znode " + n);
      st.store->remove(e.parent + "/" + n, -1, [](io::zk_rc) {});
      continue;
    }
    ordered.emplace_back(s, n);
  }
  std::sort(ordered.begin(), ordered.end());
  auto me = std::find_if(ordered.begin(), ordered.end(), [&](auto& p) { return p.second == mine; });
  if (me == ordered.end()) {  // our znode is gone (removed by hand, or the session ended)
    log::warn("leader[" + e.resource + "]", "our election znode " + e.node + " is gone; re-joining");
    e.node.clear();
    step_down(self, i, "election znode gone");
    join(self, i);
    return;
  }
  e.checked = true;
  e.leader_name = ordered.front().second;
  bool was = e.leading;
  e.leading = me == ordered.begin();
  // Convergence: follow the first type's leader (see the header).
  if (e.leading && i != 0 && ordered.size() > 1) {
    auto& first = st.elections[0];
    auto first_token = token_of(first.leader_name);
    bool first_is_candidate = std::any_of(ordered.begin(), ordered.end(), [&](auto& p) {
      return token_of(p.second) == first_token;
    });
    if (first.checked && !first.leading && !first_token.empty() && first_is_candidate) {
      log::info("leader[" + e.resource + "]",
                    "giving up leadership of " + e.resource + " to the leader of " + first.resource +
                      " (one daemon leads all types: they share one MQTT session)");
      e.leading = false;
      e.resigning = true;
      auto gen = ++e.gen;
      internal_actor hdl = self;
      st.store->remove(e.node, -1, [hdl, i, gen](io::zk_rc rc) { send_step(hdl, i, gen, step::removed, rc); });
      if (was)
        publish(self, i);
      return;
    }
  }
  if (e.leading) {
    e.leader_data = st.cfg.data;
    watch(self, i, e.node, true);  // removed under us: re-check (and re-join)
    publish(self, i);
    return;
  }
  auto pred = std::prev(me);
  watch(self, i, e.parent + "/" + pred->second, true);  // gone already: re-check at once
  if (pred != ordered.begin())
    watch(self, i, e.parent + "/" + ordered.front().second, false);  // the leader's name
  if (i == 0)  // following the first type: the others we lead are to be given up
    for (std::size_t k = 1; k < st.elections.size(); ++k)
      if (st.elections[k].leading)
        check(self, k);
  if (was)
    e.leader_data.clear();  // until the get below names the new leader
  auto gen = e.gen;
  internal_actor hdl = self;
  st.store->get(e.parent + "/" + e.leader_name, [hdl, i, gen](io::zk_rc rc, std::string data, std::int32_t) {
    send_step(hdl, i, gen, step::leader_data, rc, std::move(data));
  });
  if (was)
    publish(self, i);  // stepped down: say so now, the leader's name follows
}

void on_step(self_ptr self, std::size_t i, std::uint64_t gen, step s, int rc, std::string& text,
             std::vector<std::string>& list) {
  auto& st = self->state;
  if (i >= st.elections.size())
    return;
  auto& e = st.elections[i];
  if (gen != e.gen)
    return;  // an older check's answer or watch
  switch (s) {
    case step::created: {
      e.creating = false;
      std::int64_t session = list.empty() ? 0 : std::stoll(list.front());
      if (rc != io::zk_ok) {
        log::warn("leader[" + e.resource + "]",
                      "joining the election failed: " + io::zk_error_text(rc) + "; retrying");
        retry_later(self, i);  // a znode it may have left is removed by the next check
        return;
      }
      if (session != st.session) {  // created in a session that has ended since
        join(self, i);
        return;
      }
      e.node = text;
      e.node_session = session;
      log::info("leader[" + e.resource + "]", "joined the election as " + e.node);
      check(self, i);
      return;
    }
    case step::children:
      if (rc != io::zk_ok) {
        retry_later(self, i);
        return;
      }
      on_children(self, i, list);
      return;
    case step::leader_data:
      if (rc == io::zk_ok) {
        e.leader_data = text;
        publish(self, i);
      } else {
        check(self, i);  // the leader went meanwhile
      }
      return;
    case step::watched:
    case step::fired:
      check(self, i);
      return;
    case step::removed:
      e.resigning = false;
      e.node.clear();
      join(self, i);
      return;
    case step::retry:
      if (e.node.empty())
        join(self, i);
      else
        check(self, i);
      return;
  }
}

void set_suspended(self_ptr self, bool suspended, const std::string& why) {
  auto& st = self->state;
  if (st.suspended == suspended)
    return;
  st.suspended = suspended;
  st.probe.set("suspended", suspended ? 1 : 0);
  if (suspended)
    st.probe.add("suspensions");
  log::warn("leader", (suspended ? "suspended: " : "resumed: ") + why);
  if (st.cfg.on_suspended)
    st.cfg.on_suspended(suspended);
}

void on_session(self_ptr self, io::session_state s, std::int64_t session) {
  auto& st = self->state;
  switch (s) {
    case io::session_state::connected:
      st.connected = true;
      ++st.disconnects;
      if (session == st.session)
        set_suspended(self, false, "back in the same ZooKeeper session: its election znodes stand");
      st.session = session;
      for (std::size_t i = 0; i < st.elections.size(); ++i) {
        auto& e = st.elections[i];
        if (!e.node.empty() && e.node_session != session) {
          e.node.clear();  // ephemeral: it ended with its session
          step_down(self, i, "ZooKeeper session replaced");
        }
        if (e.creating)
          continue;  // its answer names its session: one from an ended session re-joins
        if (e.node.empty())
          join(self, i);
        else
          check(self, i);
      }
      set_suspended(self, false, "a new ZooKeeper session");  // after stepping down: the daemon restarts
      return;
    case io::session_state::connecting: {
      st.connected = false;
      auto tag = ++st.disconnects;
      // The client noticed the silence two thirds of a session timeout after the last answer
      // (or at once, on a reset): a third more, and ZooKeeper may be about to expire it.
      self->delayed_send(self, st.cfg.session_timeout / 3, msg::retry_atom::value, tag);
      return;
    }
    case io::session_state::expired:
      st.connected = false;
      ++st.disconnects;
      for (std::size_t i = 0; i < st.elections.size(); ++i) {
        st.elections[i].node.clear();
        st.elections[i].creating = false;
        step_down(self, i, "ZooKeeper session expired");
      }
      set_suspended(self, false, "the ZooKeeper session expired");
      return;
  }
}

internal_actor::behavior_type leader_behavior(
  self_ptr self, leader_settings cfg, std::shared_ptr<io::zookeeper_store> store,
  std::map<std::string, msg::orchestrator_actor> orchestrators) {
  auto& st = self->state;
  if (cfg.token.empty())
    cfg.token = make_leader_token();
  st.cfg = std::move(cfg);
  st.store = std::move(store);
  for (auto& r : st.cfg.resources) {
    election e;
    e.resource = r;
    e.parent = st.cfg.root + "/" + r;
    if (auto it = orchestrators.find(r); it != orchestrators.end())
      e.orchestrator = it->second;
    st.elections.push_back(std::move(e));
    st.probe.set(("leader_" + r).c_str(), 0);
  }
  if (st.store->connected())
    on_session(self, io::session_state::connected, st.store->session_id());
  return {
    [=](msg::stats_atom) -> msg::actor_stats {
      auto t = self->state.probe.measure("stats");
      return self->state.probe.snapshot(mailbox_depth(self));
    },
    [=](msg::status_atom) -> std::vector<msg::leadership> {
      std::vector<msg::leadership> out;
      for (auto& e : self->state.elections)
        out.push_back(msg::leadership{e.leading, true, e.leading ? e.node : std::string{}, e.leader_data});
      return out;
    },
    [=](msg::zk_session_atom, io::session_state s, std::int64_t session) {
      auto t = self->state.probe.measure("zk_session");
      on_session(self, s, session);
    },
    [=](msg::election_atom, std::uint64_t i, std::uint64_t gen, step s, int rc,
        std::string& text, std::vector<std::string>& list) {
      auto t = self->state.probe.measure("election");
      on_step(self, static_cast<std::size_t>(i), gen, s, rc, text, list);
    },
    [=](msg::retry_atom, std::uint64_t tag) {  // still disconnected about a session timeout later
      auto& st = self->state;
      if (st.connected || tag != st.disconnects || !st.leads_all)
        return;
      set_suspended(self, true, "disconnected from ZooKeeper for about a session timeout; "
                                "writes wait (fenced), workers keep running, the notify intake pauses");
    },
  };
}

}  // namespace

void resign(caf::actor_system& sys, const msg::leader_actor& leader, io::zookeeper_store& store,
            std::chrono::milliseconds bound) {
  std::vector<msg::leadership> held;
  {
    caf::scoped_actor self{sys};
    self->request(leader, bound, msg::status_atom::value)
      .receive([&](std::vector<msg::leadership>& l) { held = std::move(l); }, [](caf::error&) {});
    self->send_exit(leader, caf::exit_reason::user_shutdown);
    self->wait_for(leader);
  }
  std::vector<std::future<void>> removed;
  for (auto& l : held) {
    if (!l.leader || l.fence_path.empty())
      continue;
    auto done = std::make_shared<std::promise<void>>();
    removed.push_back(done->get_future());
    log::info("leader", "resigning: removing " + l.fence_path);
    store.remove(l.fence_path, -1, [done](io::zk_rc) { done->set_value(); });
  }
  auto until = std::chrono::steady_clock::now() + bound;
  for (auto& f : removed)
    f.wait_until(until);
}

std::string make_leader_token() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  std::string h;
  for (char c : std::string{host})
    h += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '-';
  std::random_device rd;
  return (h.empty() ? std::string{"host"} : h) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(rd() % 1000000);
}

msg::leader_actor spawn_leader(caf::actor_system& sys, leader_settings settings,
                               std::shared_ptr<io::zookeeper_store> store,
                               std::map<std::string, msg::orchestrator_actor> orchestrators) {
  internal_actor hdl =
    sys.spawn(leader_behavior, std::move(settings), store, std::move(orchestrators));
  store->add_session_listener([hdl](io::session_state s, std::int64_t session) {
    caf::anon_send(hdl, msg::zk_session_atom::value, s, session);
  });
  return hdl;
}

}  // namespace iota::actors
