#pragma once
// The ZooKeeper store: an asynchronous interface over the zookeeper C client (zookeeper_mt).
// Every call returns at once; its callback runs later on the client's own completion thread,
// so callers (actors) must only turn results into messages there. No call blocks.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/change_set.hpp"
#include "model/instance_znodes.hpp"

namespace iota::io {

// ZooKeeper's own result codes (zookeeper.h), so logs and tests can name them.
using zk_rc = int;
inline constexpr zk_rc zk_ok = 0;
inline constexpr zk_rc zk_system_error = -1;
inline constexpr zk_rc zk_connection_loss = -4;
inline constexpr zk_rc zk_marshalling_error = -5;
inline constexpr zk_rc zk_operation_timeout = -7;
inline constexpr zk_rc zk_bad_arguments = -8;
inline constexpr zk_rc zk_invalid_state = -9;
inline constexpr zk_rc zk_no_node = -101;
inline constexpr zk_rc zk_bad_version = -103;
inline constexpr zk_rc zk_node_exists = -110;
inline constexpr zk_rc zk_not_empty = -111;
inline constexpr zk_rc zk_session_expired = -112;
inline constexpr zk_rc zk_closing = -116;
inline constexpr zk_rc zk_runtime_inconsistency = -2;

// zerror()'s text, e.g. "connection loss".
std::string zk_error_text(zk_rc rc);
// The outcome of the call is unknown or the session is gone: retry after reconnect.
bool zk_transient(zk_rc rc);

enum class session_state { connecting, connected, expired };
// `session_id` changes when a new session replaces an expired one.
using session_listener = std::function<void(session_state, std::int64_t session_id)>;

enum create_flags : int { persistent = 0, ephemeral = 1, sequential = 2 };

class zookeeper_store {
 public:
  virtual ~zookeeper_store() = default;

  // Listeners are called (on the client thread) on every state change; add them before start().
  virtual void add_session_listener(session_listener listener) = 0;
  // Connects in the background; reconnects forever; after an expiry opens a new session.
  virtual void start() = 0;
  // Closes the session. Pending callbacks complete (with zk_closing or a result) before it
  // returns; none runs after.
  virtual void stop() = 0;
  virtual bool connected() const = 0;
  virtual std::int64_t session_id() const = 0;

  virtual void get(const std::string& path,
                   std::function<void(zk_rc, std::string data, std::int32_t version)> done) = 0;
  virtual void children(const std::string& path,
                        std::function<void(zk_rc, std::vector<std::string>)> done) = 0;
  virtual void create(const std::string& path, const std::string& data, int flags,
                      std::function<void(zk_rc, std::string created_path)> done) = 0;
  virtual void set(const std::string& path, const std::string& data, std::int32_t version,
                   std::function<void(zk_rc, std::int32_t new_version)> done) = 0;
  virtual void remove(const std::string& path, std::int32_t version,
                      std::function<void(zk_rc)> done) = 0;
  // All or nothing. `op_results` holds each op's code (on failure the first non-zk_ok one,
  // other than runtime-inconsistency placeholders, tells why).
  virtual void multi(std::vector<model::zk_op> ops,
                     std::function<void(zk_rc, std::vector<zk_rc> op_results)> done) = 0;
  // exists() with a one-shot watch: `done` tells whether the node exists now; `fired` runs
  // once when it is created, deleted or changed (or the session ends: ZOO_SESSION_EVENT).
  virtual void watch(const std::string& path, std::function<void(zk_rc, bool exists)> done,
                     std::function<void(int zoo_event_type)> fired) = 0;
  // Creates every missing node along `path` with empty data; "exists" counts as success.
  virtual void ensure_path(const std::string& path, std::function<void(zk_rc)> done) = 0;
  // fetchOrchestration of the original, for the resource root `root`: reads every instance
  // child's znodes and decodes them with model::decode_instances.
  virtual void fetch_instances(const std::string& root,
                               std::function<void(model::fetched_instances)> done) = 0;
};

// `hosts` as "host:port[,host:port...]". The session timeout is what ZooKeeper negotiates.
std::shared_ptr<zookeeper_store> make_zookeeper_store(
  std::string hosts, std::chrono::milliseconds session_timeout = std::chrono::seconds{10});

}  // namespace iota::io
