// The ZooKeeper store on the zookeeper C client's asynchronous API (zookeeper_mt).
//
// Threads: the C client runs an IO thread and a completion thread per handle; every callback
// of a handle runs on its completion thread. The store adds one internal thread that opens
// handles (zookeeper_init may resolve names), closes expired ones (a handle cannot be closed
// from its own callbacks) and delivers the errors of calls that never reached the client.
//
// Exactly-once callbacks: every call's context is tracked here until its completion runs.
// zookeeper_close() of the multi-threaded client drops (and leaks) completions still queued
// when it joins its threads, so before closing a handle the store lets the calls in flight on
// it finish (bounded: they are answered by the server or failed by the client), and after
// the close (no callback of it can run any more) it completes every context still tracked
// for it, with zk_closing (stop) or zk_session_expired (the session was replaced).
//
// Disconnected: while the store is not connected (before the first `connected`, between a
// `connecting` and the next `connected`, while an expired session is being replaced), calls
// are not sent: they complete with zk_connection_loss on the internal thread. Retry after a
// `connected` event. Calls the client had already sent when the connection dropped complete
// with zk_connection_loss from the client (their outcome is unknown). After stop(), calls
// complete at once, on the caller's thread, with zk_closing.
//
// Session listeners hear `connecting` when a handle is opened (on the internal thread: at
// start() and after an expiry) and when a connection drops; `connected` (with the session id)
// and `expired` come from the client's completion thread. One event at a time, in order.
//
// Watches: `fired` runs exactly once: with the node event, or with ZOO_SESSION_EVENT when
// the watch ends without one (the session expired, the store stopped, or the watch could not
// be set - then right after `done` reported the error). A reconnect within the same session
// keeps the watch (the client re-registers it).
//
// Neither stop() nor the destructor may run on a store callback (a client thread or the
// internal thread): they wait for those threads. Callbacks must not hold the last reference
// to the store for the same reason.
#ifndef THREADED
#define THREADED  // the zookeeper_mt API (the header hides parts of it otherwise)
#endif
#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>

#include "io/zookeeper_store.hpp"
#include "model/zk_layout.hpp"

namespace iota::io {

static_assert(zk_ok == ZOK && zk_system_error == ZSYSTEMERROR &&
              zk_runtime_inconsistency == ZRUNTIMEINCONSISTENCY &&
              zk_connection_loss == ZCONNECTIONLOSS && zk_marshalling_error == ZMARSHALLINGERROR &&
              zk_operation_timeout == ZOPERATIONTIMEOUT && zk_bad_arguments == ZBADARGUMENTS &&
              zk_invalid_state == ZINVALIDSTATE && zk_no_node == ZNONODE &&
              zk_bad_version == ZBADVERSION && zk_node_exists == ZNODEEXISTS &&
              zk_not_empty == ZNOTEMPTY && zk_session_expired == ZSESSIONEXPIRED &&
              zk_closing == ZCLOSING,
              "zk_rc constants must match zookeeper.h");

std::string zk_error_text(zk_rc rc) {
  const char* text = zerror(rc);
  return text ? text : "unknown error " + std::to_string(rc);
}

bool zk_transient(zk_rc rc) {
  switch (rc) {
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZSESSIONEXPIRED:
    case ZSESSIONMOVED:
    case ZCLOSING:
    case ZINVALIDSTATE:  // the handle's session is gone; the store opens a new one
      return true;
    default:
      return false;
  }
}

namespace {

class zk_store;

// Set while store code runs a user callback or listener, to catch stop() from one.
thread_local bool on_store_thread = false;

struct callback_scope {
  bool saved = on_store_thread;
  callback_scope() { on_store_thread = true; }
  ~callback_scope() { on_store_thread = saved; }
};

// One call in flight. Owned by the store's table from submission until its callback ran.
struct op_ctx {
  explicit op_ctx(zk_store* s) : store(s) {}
  virtual ~op_ctx() = default;
  op_ctx(const op_ctx&) = delete;
  op_ctx& operator=(const op_ctx&) = delete;
  virtual void fail(zk_rc rc) = 0;

  zk_store* store;
  std::uint64_t seq = 0;  // key in the table; also completion order for leftovers
  std::uint64_t gen = 0;  // the handle it was sent on
};

struct get_ctx final : op_ctx {
  using op_ctx::op_ctx;
  std::function<void(zk_rc, std::string, std::int32_t)> done;
  void fail(zk_rc rc) override { done(rc, {}, -1); }
};

struct children_ctx final : op_ctx {
  using op_ctx::op_ctx;
  std::function<void(zk_rc, std::vector<std::string>)> done;
  void fail(zk_rc rc) override { done(rc, {}); }
};

struct create_ctx final : op_ctx {
  using op_ctx::op_ctx;
  std::function<void(zk_rc, std::string)> done;
  void fail(zk_rc rc) override { done(rc, {}); }
};

struct set_ctx final : op_ctx {
  using op_ctx::op_ctx;
  std::function<void(zk_rc, std::int32_t)> done;
  void fail(zk_rc rc) override { done(rc, -1); }
};

struct remove_ctx final : op_ctx {
  using op_ctx::op_ctx;
  std::function<void(zk_rc)> done;
  void fail(zk_rc rc) override { done(rc); }
};

// The op structures, their data and the result array stay here until the completion.
struct multi_ctx final : op_ctx {
  using op_ctx::op_ctx;
  std::function<void(zk_rc, std::vector<zk_rc>)> done;
  std::vector<model::zk_op> ops;
  std::vector<zoo_op_t> zops;
  std::vector<zoo_op_result_t> results;
  void fail(zk_rc rc) override { done(rc, std::vector<zk_rc>(results.size(), rc)); }
};

struct watch_ctx {
  zk_store* store = nullptr;
  std::uint64_t seq = 0;
  std::uint64_t gen = 0;
  std::function<void(int)> fired;
  bool ended = false;  // `fired` ran; only touched on the handle's completion thread or after close
  void end(int event_type) {
    if (ended)
      return;
    ended = true;
    callback_scope scope;
    fired(event_type);
  }
};

struct exists_ctx final : op_ctx {
  using op_ctx::op_ctx;
  std::function<void(zk_rc, bool)> done;
  watch_ctx* watch = nullptr;
  void fail(zk_rc rc) override { done(rc, false); }
};

struct handle_ctx {
  zk_store* store;
  std::uint64_t gen;
};

struct session_handle {
  zhandle_t* zh = nullptr;
  std::uint64_t gen = 0;
  std::unique_ptr<handle_ctx> ctx;
};

// The C client returns these before it registers a completion: nothing will call it.
bool refused_before_registration(int rc) { return rc == ZBADARGUMENTS || rc == ZINVALIDSTATE; }

void set_log_level_once() {
  static std::once_flag once;
  std::call_once(once, [] { zoo_set_debug_level(ZOO_LOG_LEVEL_WARN); });
}

// C callbacks: the client passes back the context pointer given with the call.
void on_session_event(zhandle_t* zh, int type, int state, const char* path, void* ctx);
void on_watch_event(zhandle_t* zh, int type, int state, const char* path, void* ctx);
void on_data(int rc, const char* value, int value_len, const Stat* stat, const void* data);
void on_strings(int rc, const String_vector* strings, const void* data);
void on_string(int rc, const char* value, const void* data);
void on_stat(int rc, const Stat* stat, const void* data);
void on_void(int rc, const void* data);
void on_multi(int rc, const void* data);
void on_exists(int rc, const Stat* stat, const void* data);

class zk_store final : public zookeeper_store {
 public:
  zk_store(std::string hosts, std::chrono::milliseconds session_timeout)
      : hosts_(std::move(hosts)),
        timeout_ms_(static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(
          session_timeout.count(), 1, INT_MAX))) {
    set_log_level_once();
    worker_ = std::thread([this] { run_worker(); });
  }

  ~zk_store() override { stop(); }

  void add_session_listener(session_listener listener) override {
    std::lock_guard lk(listeners_mu_);
    listeners_.push_back(std::move(listener));
  }

  void start() override {
    {
      std::unique_lock lk(mu_);
      if (started_ || stopping_)
        return;
      started_ = true;
    }
    post([this] { open_handle(); });
  }

  void stop() override {
    if (on_store_thread) {
      std::fprintf(stderr,
                   "zookeeper_store: stop() or the destructor ran on a store callback; it "
                   "would wait for its own thread\n");
      std::abort();
    }
    std::lock_guard serial(stop_mu_);
    std::unique_ptr<session_handle> h;
    {
      std::unique_lock lk(mu_);
      if (stopped_)
        return;
      stopping_ = true;
      h = std::move(current_);
    }
    connected_ = false;
    if (h)
      close_handle(std::move(h), ZCLOSING, std::chrono::seconds{3});
    // The worker runs what is queued (errors to deliver, an expired handle to close) and
    // exits; later posts run on the caller's thread.
    {
      std::lock_guard lk(q_mu_);
      q_exit_ = true;
      reopen_at_.reset();
      q_cv_.notify_all();
    }
    if (worker_.joinable())
      worker_.join();
    fail_tracked(std::nullopt, ZCLOSING);
    std::unique_lock lk(mu_);
    stopped_ = true;
  }

  bool connected() const override { return connected_.load(); }
  std::int64_t session_id() const override { return session_id_.load(); }

  void get(const std::string& path,
           std::function<void(zk_rc, std::string, std::int32_t)> done) override {
    auto c = std::make_unique<get_ctx>(this);
    c->done = std::move(done);
    submit(std::move(c), [&path](zhandle_t* zh, op_ctx* raw) {
      return zoo_aget(zh, path.c_str(), 0, &on_data, raw);
    });
  }

  void children(const std::string& path,
                std::function<void(zk_rc, std::vector<std::string>)> done) override {
    auto c = std::make_unique<children_ctx>(this);
    c->done = std::move(done);
    submit(std::move(c), [&path](zhandle_t* zh, op_ctx* raw) {
      return zoo_aget_children(zh, path.c_str(), 0, &on_strings, raw);
    });
  }

  void create(const std::string& path, const std::string& data, int flags,
              std::function<void(zk_rc, std::string)> done) override {
    auto c = std::make_unique<create_ctx>(this);
    c->done = std::move(done);
    int mode = 0;
    if (flags & ephemeral)
      mode |= ZOO_EPHEMERAL;
    if (flags & sequential)
      mode |= ZOO_SEQUENCE;
    submit(std::move(c), [&path, &data, mode](zhandle_t* zh, op_ctx* raw) {
      return zoo_acreate(zh, path.c_str(), data.data(), static_cast<int>(data.size()),
                         &ZOO_OPEN_ACL_UNSAFE, mode, &on_string, raw);
    });
  }

  void set(const std::string& path, const std::string& data, std::int32_t version,
           std::function<void(zk_rc, std::int32_t)> done) override {
    auto c = std::make_unique<set_ctx>(this);
    c->done = std::move(done);
    submit(std::move(c), [&path, &data, version](zhandle_t* zh, op_ctx* raw) {
      return zoo_aset(zh, path.c_str(), data.data(), static_cast<int>(data.size()), version,
                      &on_stat, raw);
    });
  }

  void remove(const std::string& path, std::int32_t version,
              std::function<void(zk_rc)> done) override {
    auto c = std::make_unique<remove_ctx>(this);
    c->done = std::move(done);
    submit(std::move(c), [&path, version](zhandle_t* zh, op_ctx* raw) {
      return zoo_adelete(zh, path.c_str(), version, &on_void, raw);
    });
  }

  // Serialising a multi (up to 256 KB; a batch sends ~80) is the store's work, not the
  // caller's: it runs on the store's thread, in the order the multis were given, so an
  // orchestrator's thread goes on with its next batch meanwhile.
  void multi(std::vector<model::zk_op> ops,
             std::function<void(zk_rc, std::vector<zk_rc>)> done) override {
    struct request {
      std::vector<model::zk_op> ops;
      std::function<void(zk_rc, std::vector<zk_rc>)> done;
    };
    auto r = std::make_shared<request>(request{std::move(ops), std::move(done)});
    post([this, r] { submit_multi(std::move(r->ops), std::move(r->done)); });
  }

  void submit_multi(std::vector<model::zk_op> ops,
                    std::function<void(zk_rc, std::vector<zk_rc>)> done) {
    auto c = std::make_unique<multi_ctx>(this);
    c->done = std::move(done);
    c->ops = std::move(ops);
    c->zops.resize(c->ops.size());
    c->results.resize(c->ops.size());  // value-initialised: err 0, no buffers
    for (std::size_t i = 0; i < c->ops.size(); ++i) {
      const auto& op = c->ops[i];
      auto* z = &c->zops[i];
      switch (op.type) {
        case model::zk_op::kind::create:
          zoo_create_op_init(z, op.path.c_str(), op.data.data(), static_cast<int>(op.data.size()),
                             &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, nullptr, 0);
          break;
        case model::zk_op::kind::set:
          zoo_set_op_init(z, op.path.c_str(), op.data.data(), static_cast<int>(op.data.size()),
                          op.version, nullptr);
          break;
        case model::zk_op::kind::remove:
          zoo_delete_op_init(z, op.path.c_str(), op.version);
          break;
        case model::zk_op::kind::check:
          zoo_check_op_init(z, op.path.c_str(), op.version);
          break;
      }
    }
    submit(std::move(c), [](zhandle_t* zh, op_ctx* raw) {
      auto* m = static_cast<multi_ctx*>(raw);
      // The client serialises the request in the call, so the payloads (up to a batch's 16 MB,
      // at production size) go when it returns. Moved out first: `m` may be completed and
      // gone by then, and a moved vector keeps its elements where zops points.
      auto payloads = std::move(m->ops);
      return zoo_amulti(zh, static_cast<int>(m->zops.size()), m->zops.data(), m->results.data(),
                        &on_multi, raw);
    });
  }

  void watch(const std::string& path, std::function<void(zk_rc, bool)> done,
             std::function<void(int)> fired) override {
    auto w = std::make_unique<watch_ctx>();
    w->store = this;
    w->fired = std::move(fired);
    auto c = std::make_unique<exists_ctx>(this);
    c->done = std::move(done);
    c->watch = w.get();
    zk_rc rc;
    {
      std::shared_lock lk(mu_);
      if (!current_ || !connected_.load()) {
        rc = stopping_ ? ZCLOSING : ZCONNECTIONLOSS;
      } else {
        c->gen = w->gen = current_->gen;
        auto* wraw = track_watch(std::move(w));
        auto* craw = track(std::move(c));
        rc = zoo_awexists(current_->zh, path.c_str(), &on_watch_event, wraw, &on_exists, craw);
        if (rc == ZOK || !refused_before_registration(rc))
          return;  // (a marshalling error: see submit())
        c.reset(static_cast<exists_ctx*>(untrack(craw).release()));
        w = untrack_watch(wraw);
      }
    }
    std::shared_ptr<exists_ctx> sc(std::move(c));
    std::shared_ptr<watch_ctx> sw(std::move(w));
    post([sc, sw, rc] {
      sc->done(rc, false);
      sw->end(ZOO_SESSION_EVENT);
    });
  }

  void ensure_path(const std::string& path, std::function<void(zk_rc)> done) override {
    if (path.empty() || path[0] != '/') {
      post([done = std::move(done)] { done(ZBADARGUMENTS); });
      return;
    }
    auto job = std::make_shared<ensure_job>();
    job->done = std::move(done);
    for (std::size_t i = 1; i < path.size(); ++i)
      if (path[i] == '/')
        job->paths.push_back(path.substr(0, i));
    if (path.size() > 1)
      job->paths.push_back(path);
    if (job->paths.empty()) {  // "/"
      post([job] { job->done(ZOK); });
      return;
    }
    ensure_step(job, 0);
  }

  void fetch_instances(const std::string& root,
                       std::function<void(model::fetched_instances)> done) override {
    auto job = std::make_shared<fetch_job>();
    job->root = root;
    job->done = std::move(done);
    children(root, [this, job](zk_rc rc, std::vector<std::string> names) {
      if (rc == ZNONODE) {
        job->done(model::fetched_instances{});
        return;
      }
      if (rc != ZOK) {
        model::fetched_instances failed;
        failed.rc = rc;
        job->done(std::move(failed));
        return;
      }
      for (auto& name : names)
        if (auto id = model::parse_instance_name(name))
          job->entries.push_back(model::instance_znodes{*id, {}});
      std::sort(job->entries.begin(), job->entries.end(),
                [](const auto& a, const auto& b) { return a.id < b.id; });
      if (job->entries.empty()) {
        job->done(model::fetched_instances{});
        return;
      }
      job->remaining = job->entries.size() * 3;
      // Counted before the first get: a get may complete at once (on the internal thread).
      for (std::size_t i = 0; i < job->entries.size(); ++i) {
        for (std::size_t k = 0; k < 3; ++k) {
          get(job->path(i, k), [job, i, k](zk_rc grc, std::string data, std::int32_t version) {
            bool last;
            {
              std::lock_guard lk(job->mu);
              if (grc == ZOK)
                job->entries[i].nodes[k] = model::znode_read{true, std::move(data), version};
              else if (grc != ZNONODE)
                job->errors.push_back(grc);
              last = --job->remaining == 0;
            }
            if (last)
              job->finish();
          });
        }
      }
    });
  }

  // Called by the C callbacks.
  void session_event(zhandle_t* zh, std::uint64_t gen, int state);
  std::unique_ptr<op_ctx> untrack(op_ctx* raw);
  std::unique_ptr<watch_ctx> untrack_watch(watch_ctx* raw);

 private:
  struct ensure_job {
    std::vector<std::string> paths;
    std::function<void(zk_rc)> done;
  };

  // What one fetch read so far; decoding is model::decode_instances.
  struct fetch_job {
    std::string root;
    std::function<void(model::fetched_instances)> done;
    std::vector<model::instance_znodes> entries;
    std::vector<zk_rc> errors;  // a read that failed other than "no node"
    std::mutex mu;
    std::size_t remaining = 0;

    std::string path(std::size_t i, std::size_t k) const {
      auto id = entries[i].id;
      switch (k) {
        case 0: return model::instance_path(root, id);
        case 1: return model::reload_path(root, id);
        default: return model::resources_path(root, id);
      }
    }

    void finish() {
      if (!errors.empty()) {  // connection loss etc.: nothing read is reliable
        model::fetched_instances out;
        out.rc = errors.front();
        done(std::move(out));
        return;
      }
      done(model::decode_instances(root, std::move(entries)));
    }
  };

  void ensure_step(std::shared_ptr<ensure_job> job, std::size_t i) {
    create(job->paths[i], std::string{}, persistent,
           [this, job, i](zk_rc rc, std::string) {
             if (rc != ZOK && rc != ZNODEEXISTS) {
               job->done(rc);
               return;
             }
             if (i + 1 == job->paths.size()) {
               job->done(ZOK);
               return;
             }
             ensure_step(job, i + 1);
           });
  }

  // Sends the call on the current handle when connected; otherwise, or when the client
  // refuses it at once, the error is delivered on the internal thread (never inside the call).
  template <class Call>
  void submit(std::unique_ptr<op_ctx> c, Call&& call) {
    zk_rc rc;
    {
      std::shared_lock lk(mu_);
      if (!current_ || !connected_.load()) {
        rc = stopping_ ? ZCLOSING : ZCONNECTIONLOSS;
      } else {
        c->gen = current_->gen;
        auto* raw = track(std::move(c));
        rc = call(current_->zh, raw);
        if (rc == ZOK)
          return;
        if (!refused_before_registration(rc)) {
          // A marshalling error (out of memory) may come after the client registered the
          // completion. Left tracked, the call completes exactly once: from the client, or
          // when this handle is closed.
          std::fprintf(stderr, "zookeeper_store: request failed to queue: %s\n", zerror(rc));
          return;
        }
        c = untrack(raw);
      }
    }
    std::shared_ptr<op_ctx> sc(std::move(c));
    post([sc, rc] { sc->fail(rc); });
  }

  op_ctx* track(std::unique_ptr<op_ctx> c) {
    std::lock_guard lk(ops_mu_);
    c->seq = ++next_seq_;
    auto* raw = c.get();
    ++in_flight_[raw->gen];
    ops_.emplace(raw->seq, std::move(c));
    return raw;
  }

  // Call with ops_mu_ held, for each context leaving ops_.
  void forget_locked(const op_ctx& c) {
    auto it = in_flight_.find(c.gen);
    if (it != in_flight_.end() && --it->second == 0) {
      in_flight_.erase(it);
      ops_cv_.notify_all();
    }
  }

  // Waits until no call is in flight on handle `gen`, or `bound` passed.
  void drain(std::uint64_t gen, std::chrono::milliseconds bound) {
    std::unique_lock lk(ops_mu_);
    ops_cv_.wait_for(lk, bound, [&] { return in_flight_.count(gen) == 0; });
  }

  watch_ctx* track_watch(std::unique_ptr<watch_ctx> w) {
    std::lock_guard lk(ops_mu_);
    w->seq = ++next_seq_;
    auto* raw = w.get();
    watches_.emplace(raw->seq, std::move(w));
    return raw;
  }

  // Completes whatever is still tracked for handle `gen` (all when nullopt). Only once no
  // callback of that handle can run any more (it is closed).
  void fail_tracked(std::optional<std::uint64_t> gen, zk_rc rc) {
    callback_scope scope;
    std::vector<std::unique_ptr<op_ctx>> ops;
    std::vector<std::unique_ptr<watch_ctx>> watches;
    {
      std::lock_guard lk(ops_mu_);
      for (auto it = ops_.begin(); it != ops_.end();) {
        if (!gen || it->second->gen == *gen) {
          forget_locked(*it->second);
          ops.push_back(std::move(it->second));
          it = ops_.erase(it);
        } else {
          ++it;
        }
      }
      for (auto it = watches_.begin(); it != watches_.end();) {
        if (!gen || it->second->gen == *gen) {
          watches.push_back(std::move(it->second));
          it = watches_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& c : ops)  // in submission order (the table is keyed by sequence)
      c->fail(rc);
    for (auto& w : watches)
      w->end(ZOO_SESSION_EVENT);
  }

  void close_handle(std::unique_ptr<session_handle> h, zk_rc rc,
                    std::chrono::milliseconds drain_bound) {
    // No new call reaches it (it is not current any more); the ones in flight finish first.
    drain(h->gen, drain_bound);
    // Joins the handle's threads: afterwards no callback of it runs.
    zookeeper_close(h->zh);
    fail_tracked(h->gen, rc);
  }

  void open_handle() {
    auto h = std::make_unique<session_handle>();
    {
      std::shared_lock lk(mu_);
      if (stopping_)
        return;
    }
    h->gen = ++next_gen_;
    h->ctx = std::make_unique<handle_ctx>(handle_ctx{this, h->gen});
    session_id_ = 0;
    notify(session_state::connecting, 0);
    {
      // Held until the handle is installed, so that its first session event (on its own
      // completion thread) waits for it instead of being taken for a stale handle's.
      std::lock_guard install(install_mu_);
      h->zh = zookeeper_init(hosts_.c_str(), &on_session_event, timeout_ms_, nullptr,
                             h->ctx.get(), 0);
      if (h->zh) {
        std::unique_lock lk(mu_);
        if (!stopping_) {
          current_ = std::move(h);
          return;
        }
      }
    }
    if (h->zh) {  // stop() came first; nothing was sent on it
      zookeeper_close(h->zh);
      return;
    }
    std::fprintf(stderr, "zookeeper_store: zookeeper_init(%s) failed: %s; retrying in 1 s\n",
                 hosts_.c_str(), std::strerror(errno));
    std::lock_guard lk(q_mu_);
    if (!q_exit_)
      reopen_at_ = std::chrono::steady_clock::now() + std::chrono::seconds{1};
  }

  void replace_session(std::uint64_t gen) {
    std::unique_ptr<session_handle> old;
    {
      std::unique_lock lk(mu_);
      if (!current_ || current_->gen != gen)
        return;
      old = std::move(current_);
    }
    // The client already failed what was in flight; the drain only waits for the callbacks.
    close_handle(std::move(old), ZSESSIONEXPIRED, std::chrono::seconds{1});
    open_handle();
  }

  void notify(session_state state, std::int64_t id) {
    std::lock_guard serial(notify_mu_);
    std::vector<session_listener> listeners;
    {
      std::lock_guard lk(listeners_mu_);
      listeners = listeners_;
    }
    callback_scope scope;
    for (auto& l : listeners)
      l(state, id);
  }

  void post(std::function<void()> task) {
    {
      std::lock_guard lk(q_mu_);
      if (!q_gone_) {
        q_.push_back(std::move(task));
        q_cv_.notify_one();
        return;
      }
    }
    // Stopped: no thread is left, and the caller must still hear back exactly once.
    task();
  }

  void run_worker() {
    on_store_thread = true;
    std::unique_lock lk(q_mu_);
    for (;;) {
      if (!q_.empty()) {
        auto task = std::move(q_.front());
        q_.pop_front();
        lk.unlock();
        task();
        task = nullptr;  // user callbacks die here, not under the lock
        lk.lock();
        continue;
      }
      if (q_exit_) {
        q_gone_ = true;
        return;
      }
      if (reopen_at_) {
        if (std::chrono::steady_clock::now() >= *reopen_at_) {
          reopen_at_.reset();
          lk.unlock();
          open_handle();
          lk.lock();
        } else {
          q_cv_.wait_until(lk, *reopen_at_);
        }
      } else {
        q_cv_.wait(lk);
      }
    }
  }

  const std::string hosts_;
  const int timeout_ms_;

  std::mutex stop_mu_;
  mutable std::shared_mutex mu_;  // current_, started_, stopping_, stopped_
  std::unique_ptr<session_handle> current_;
  bool started_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  std::atomic<std::uint64_t> next_gen_{0};
  std::mutex install_mu_;
  std::atomic<bool> connected_{false};
  std::atomic<std::int64_t> session_id_{0};

  std::mutex listeners_mu_;
  std::vector<session_listener> listeners_;
  std::mutex notify_mu_;  // listeners hear one event at a time, in order

  std::mutex ops_mu_;
  std::uint64_t next_seq_ = 0;
  std::map<std::uint64_t, std::unique_ptr<op_ctx>> ops_;
  std::map<std::uint64_t, std::unique_ptr<watch_ctx>> watches_;
  std::map<std::uint64_t, std::size_t> in_flight_;  // tracked calls per handle
  std::condition_variable ops_cv_;

  std::mutex q_mu_;
  std::condition_variable q_cv_;
  std::deque<std::function<void()>> q_;
  bool q_exit_ = false;
  bool q_gone_ = false;
  std::optional<std::chrono::steady_clock::time_point> reopen_at_;
  std::thread worker_;
};

void zk_store::session_event(zhandle_t* zh, std::uint64_t gen, int state) {
  { std::lock_guard wait_for_install(install_mu_); }
  {
    std::shared_lock lk(mu_);
    if (stopping_ || !current_ || current_->gen != gen)
      return;  // a handle being closed
  }
  if (state == ZOO_CONNECTED_STATE || state == ZOO_READONLY_STATE) {
    const clientid_t* id = zoo_client_id(zh);
    session_id_ = id ? id->client_id : 0;
    connected_ = true;
    notify(session_state::connected, session_id_.load());
  } else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
    connected_ = false;
    notify(session_state::expired, session_id_.load());
    // Not from here: zookeeper_close() of a handle must not run on its own threads.
    post([this, gen] { replace_session(gen); });
  } else {  // connecting, associating, not connected
    connected_ = false;
    notify(session_state::connecting, session_id_.load());
  }
}

std::unique_ptr<op_ctx> zk_store::untrack(op_ctx* raw) {
  std::lock_guard lk(ops_mu_);
  auto it = ops_.find(raw->seq);
  if (it == ops_.end() || it->second.get() != raw)
    return nullptr;
  forget_locked(*it->second);
  auto c = std::move(it->second);
  ops_.erase(it);
  return c;
}

std::unique_ptr<watch_ctx> zk_store::untrack_watch(watch_ctx* raw) {
  std::lock_guard lk(ops_mu_);
  auto it = watches_.find(raw->seq);
  if (it == watches_.end() || it->second.get() != raw)
    return nullptr;
  auto w = std::move(it->second);
  watches_.erase(it);
  return w;
}

// A context pointer handed to the client stays valid until its completion ran (it is freed
// by the completion itself) or the handle was closed (then the client calls nothing).
// The pointer given to the client is always the op_ctx base (see submit()).
template <class Ctx>
std::unique_ptr<Ctx> take(const void* data) {
  auto* raw = static_cast<op_ctx*>(const_cast<void*>(data));
  auto owned = raw->store->untrack(raw);
  return std::unique_ptr<Ctx>(static_cast<Ctx*>(owned.release()));
}

void on_session_event(zhandle_t* zh, int type, int state, const char*, void* ctx) {
  if (type != ZOO_SESSION_EVENT || !ctx)
    return;
  auto* h = static_cast<handle_ctx*>(ctx);
  h->store->session_event(zh, h->gen, state);
}

void on_watch_event(zhandle_t*, int type, int state, const char*, void* ctx) {
  callback_scope scope;
  auto* w = static_cast<watch_ctx*>(ctx);
  if (type == ZOO_SESSION_EVENT) {
    // The client tells every watch about every session change. Within a session the watch
    // survives a reconnect; when the session is over it ends now, and its context is freed
    // when the handle is closed (the client still holds the pointer until then).
    if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE)
      w->end(ZOO_SESSION_EVENT);
    return;
  }
  if (auto owned = w->store->untrack_watch(w))  // the client dropped it: a watch is one-shot
    owned->end(type);
}

void on_data(int rc, const char* value, int value_len, const Stat* stat, const void* data) {
  callback_scope scope;  // also covers the callback's destruction
  auto c = take<get_ctx>(data);
  if (!c)
    return;
  std::string bytes;
  if (rc == ZOK && value && value_len > 0)
    bytes.assign(value, static_cast<std::size_t>(value_len));
  c->done(rc, std::move(bytes), rc == ZOK && stat ? stat->version : -1);
}

void on_strings(int rc, const String_vector* strings, const void* data) {
  callback_scope scope;  // also covers the callback's destruction
  auto c = take<children_ctx>(data);
  if (!c)
    return;
  std::vector<std::string> names;
  if (rc == ZOK && strings) {
    names.reserve(static_cast<std::size_t>(std::max(strings->count, 0)));
    for (std::int32_t i = 0; i < strings->count; ++i)
      names.emplace_back(strings->data[i] ? strings->data[i] : "");
  }
  c->done(rc, std::move(names));
}

void on_string(int rc, const char* value, const void* data) {
  callback_scope scope;  // also covers the callback's destruction
  auto c = take<create_ctx>(data);
  if (!c)
    return;
  c->done(rc, rc == ZOK && value ? std::string(value) : std::string{});
}

void on_stat(int rc, const Stat* stat, const void* data) {
  callback_scope scope;  // also covers the callback's destruction
  auto c = take<set_ctx>(data);
  if (!c)
    return;
  c->done(rc, rc == ZOK && stat ? stat->version : -1);
}

void on_void(int rc, const void* data) {
  callback_scope scope;  // also covers the callback's destruction
  auto c = take<remove_ctx>(data);
  if (!c)
    return;
  c->done(rc);
}

void on_multi(int rc, const void* data) {
  callback_scope scope;  // also covers the callback's destruction
  auto c = take<multi_ctx>(data);
  if (!c)
    return;
  std::vector<zk_rc> results(c->results.size());
  for (std::size_t i = 0; i < results.size(); ++i)
    results[i] = c->results[i].err;
  c->done(rc, std::move(results));
}

void on_exists(int rc, const Stat*, const void* data) {
  callback_scope scope;  // also covers the callback's destruction
  auto c = take<exists_ctx>(data);
  if (!c)
    return;
  if (rc == ZOK || rc == ZNONODE) {  // the client registered the watch
    c->done(ZOK, rc == ZOK);
    return;
  }
  c->done(rc, false);
  if (auto w = c->store->untrack_watch(c->watch))  // no watch was set: it ends now
    w->end(ZOO_SESSION_EVENT);
}

}  // namespace

std::shared_ptr<zookeeper_store> make_zookeeper_store(std::string hosts,
                                                      std::chrono::milliseconds session_timeout) {
  return std::make_shared<zk_store>(std::move(hosts), session_timeout);
}

}  // namespace iota::io
