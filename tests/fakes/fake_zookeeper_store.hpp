#pragma once
// A ZooKeeper store for deterministic actor tests: multis run against an in-memory znode
// tree with ZooKeeper's rules; completions run at once or are held until the test releases
// them, always on the test's own thread (CAF's test_coordinator is single-threaded).
#include <deque>
#include <functional>
#include <optional>

#include "fakes/znode_tree.hpp"
#include "io/inventory.hpp"
#include "io/zookeeper_store.hpp"

namespace iota::test {

class fake_zookeeper_store : public io::zookeeper_store {
 public:
  znode_tree tree;
  bool hold = false;                          // keep completions until release()
  std::optional<io::zk_rc> fail_next_multi;   // the next multi fails with this code, unapplied
  std::size_t multis = 0;
  std::size_t fetches = 0;
  std::vector<std::size_t> multi_sizes;       // ops per multi

  void add_session_listener(io::session_listener l) override { listeners_.push_back(std::move(l)); }
  void start() override {}
  void stop() override {}
  bool connected() const override { return connected_; }
  std::int64_t session_id() const override { return session_; }

  // Simulates the client's session events.
  void set_session(io::session_state s, std::int64_t session) {
    connected_ = s == io::session_state::connected;
    session_ = session;
    for (auto& l : listeners_)
      l(s, session);
  }

  std::size_t held() const { return pending_.size(); }
  // Runs the oldest held completion; false if none.
  bool release() {
    if (pending_.empty())
      return false;
    auto f = std::move(pending_.front());
    pending_.pop_front();
    f();
    return true;
  }

  void get(const std::string&, std::function<void(io::zk_rc, std::string, std::int32_t)> done) override {
    done(io::zk_system_error, {}, -1);
  }
  void children(const std::string&, std::function<void(io::zk_rc, std::vector<std::string>)> done) override {
    done(io::zk_system_error, {});
  }
  void create(const std::string&, const std::string&, int,
              std::function<void(io::zk_rc, std::string)> done) override {
    done(io::zk_system_error, {});
  }
  void set(const std::string&, const std::string&, std::int32_t,
           std::function<void(io::zk_rc, std::int32_t)> done) override {
    done(io::zk_system_error, -1);
  }
  void remove(const std::string&, std::int32_t, std::function<void(io::zk_rc)> done) override {
    done(io::zk_system_error);
  }
  void watch(const std::string&, std::function<void(io::zk_rc, bool)> done,
             std::function<void(int)>) override {
    done(io::zk_system_error, false);
  }
  void ensure_path(const std::string&, std::function<void(io::zk_rc)> done) override {
    run([done] { done(io::zk_ok); });
  }

  void multi(std::vector<model::zk_op> ops,
             std::function<void(io::zk_rc, std::vector<io::zk_rc>)> done) override {
    ++multis;
    multi_sizes.push_back(ops.size());
    auto fail = fail_next_multi;
    fail_next_multi.reset();
    run([this, ops = std::move(ops), done = std::move(done), fail] {
      if (!connected_) {
        done(io::zk_connection_loss, {});
        return;
      }
      if (fail) {
        done(*fail, {});
        return;
      }
      std::vector<const model::zk_op*> ptrs;
      for (auto& op : ops)
        ptrs.push_back(&op);
      try {
        tree.apply(ptrs);
      } catch (const std::exception& e) {
        std::string what = e.what();
        auto rc = what.find("version") != std::string::npos ? io::zk_bad_version
                  : what.find("exists") != std::string::npos ? io::zk_node_exists
                                                              : io::zk_no_node;
        // As ZooKeeper reports it: ok before the failing op, its code, placeholders after.
        std::vector<io::zk_rc> results(ops.size(), io::zk_runtime_inconsistency);
        for (std::size_t k = 0; k < ptrs.size(); ++k) {
          auto probe = tree;
          try {
            probe.apply({ptrs.begin(), ptrs.begin() + static_cast<std::ptrdiff_t>(k + 1)});
            results[k] = io::zk_ok;
          } catch (const std::exception&) {
            results[k] = rc;
            break;
          }
        }
        done(rc, std::move(results));
        return;
      }
      done(io::zk_ok, std::vector<io::zk_rc>(ops.size(), io::zk_ok));
    });
  }

  void fetch_instances(const std::string& root, std::function<void(model::fetched_instances)> done) override {
    ++fetches;
    run([this, root, done = std::move(done)] {
      model::fetched_instances f;
      if (!connected_)
        f.rc = io::zk_connection_loss;
      else
        f = model::decode_instances(root, tree.read_instances(root));
      done(std::move(f));
    });
  }

 private:
  void run(std::function<void()> f) {
    if (hold)
      pending_.push_back(std::move(f));
    else
      f();
  }

  std::vector<io::session_listener> listeners_;
  std::deque<std::function<void()>> pending_;
  bool connected_ = true;
  std::int64_t session_ = 1;
};

// An inventory that answers at once, on the caller's thread.
class fixed_inventory : public io::inventory_source {
 public:
  std::vector<std::string> ids;
  std::optional<std::string> error;
  void load(std::function<void(io::inventory_result)> done) override {
    io::inventory_result r;
    r.ok = !error;
    r.ids = ids;
    r.error = error.value_or("");
    done(std::move(r));
  }
  std::string describe() const override { return "fixed"; }
};

}  // namespace iota::test
