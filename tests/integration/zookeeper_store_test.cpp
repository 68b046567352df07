// io/zookeeper_store_zk.cpp against a real ZooKeeper server (tests/fixtures/zookeeper_server).
// Every wait is on a condition with a generous deadline: CI is a loaded 2-core machine.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "io/zookeeper_store.hpp"
#include "model/zk_layout.hpp"
#include "tests/fixtures/process.hpp"
#include "tests/fixtures/zookeeper_server.hpp"

using namespace std::chrono_literals;
using iota::model::fetched_instances;
using iota::io::make_zookeeper_store;
using iota::io::session_state;
using iota::io::zk_rc;
using iota::io::zookeeper_store;
using iota::model::zk_op;
namespace io = iota::io;
namespace model = iota::model;
namespace test = iota::test;

namespace {

constexpr auto deadline = 60s;

test::zookeeper_server& shared_server() {
  static test::zookeeper_server server;
  return server;
}

// ---- session events -------------------------------------------------------------------

class session_log {
 public:
  void add(session_state s, std::int64_t id) {
    std::lock_guard lk(mu_);
    events_.emplace_back(s, id);
    cv_.notify_all();
  }
  std::size_t size() {
    std::lock_guard lk(mu_);
    return events_.size();
  }
  std::vector<std::pair<session_state, std::int64_t>> events() {
    std::lock_guard lk(mu_);
    return events_;
  }
  // Index of the first `s` at or after `from`, waiting up to the deadline for it.
  std::optional<std::size_t> wait_for(session_state s, std::size_t from = 0,
                                      std::chrono::milliseconds d = deadline) {
    std::unique_lock lk(mu_);
    std::optional<std::size_t> found;
    cv_.wait_for(lk, d, [&] {
      for (auto i = from; i < events_.size(); ++i)
        if (events_[i].first == s) {
          found = i;
          return true;
        }
      return false;
    });
    return found;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<session_state, std::int64_t>> events_;
};

// A started store whose listener records into `log`; the constructor waits for `connected`.
struct store_fixture {
  std::shared_ptr<session_log> log = std::make_shared<session_log>();
  std::shared_ptr<zookeeper_store> store;

  explicit store_fixture(const std::string& hosts, std::chrono::milliseconds timeout = 10s,
                         bool wait_connected = true) {
    store = make_zookeeper_store(hosts, timeout);
    store->add_session_listener([l = log](session_state s, std::int64_t id) { l->add(s, id); });
    store->start();
    if (wait_connected)
      REQUIRE(log->wait_for(session_state::connected));
  }
  ~store_fixture() { store->stop(); }
  zookeeper_store& operator*() { return *store; }
};

// ---- synchronous wrappers (test thread only) -----------------------------------------

template <class T, class Issue>
T await(Issue&& issue) {
  auto p = std::make_shared<std::promise<T>>();
  auto f = p->get_future();
  issue(p);  // a second call of a callback would throw in set_value: exactly once is checked
  REQUIRE(f.wait_for(deadline) == std::future_status::ready);
  return f.get();
}

struct get_result {
  zk_rc rc;
  std::string data;
  std::int32_t version;
};

get_result zk_get(zookeeper_store& s, const std::string& path) {
  return await<get_result>([&](auto p) {
    s.get(path, [p](zk_rc rc, std::string d, std::int32_t v) {
      p->set_value(get_result{rc, std::move(d), v});
    });
  });
}

std::pair<zk_rc, std::string> zk_create(zookeeper_store& s, const std::string& path,
                                        const std::string& data = {},
                                        int flags = io::persistent) {
  return await<std::pair<zk_rc, std::string>>([&](auto p) {
    s.create(path, data, flags, [p](zk_rc rc, std::string created) {
      p->set_value({rc, std::move(created)});
    });
  });
}

std::pair<zk_rc, std::int32_t> zk_set(zookeeper_store& s, const std::string& path,
                                      const std::string& data, std::int32_t version = -1) {
  return await<std::pair<zk_rc, std::int32_t>>([&](auto p) {
    s.set(path, data, version, [p](zk_rc rc, std::int32_t v) { p->set_value({rc, v}); });
  });
}

zk_rc zk_remove(zookeeper_store& s, const std::string& path, std::int32_t version = -1) {
  return await<zk_rc>([&](auto p) { s.remove(path, version, [p](zk_rc rc) { p->set_value(rc); }); });
}

std::pair<zk_rc, std::vector<std::string>> zk_children(zookeeper_store& s,
                                                       const std::string& path) {
  auto r = await<std::pair<zk_rc, std::vector<std::string>>>([&](auto p) {
    s.children(path, [p](zk_rc rc, std::vector<std::string> names) {
      p->set_value({rc, std::move(names)});
    });
  });
  std::sort(r.second.begin(), r.second.end());
  return r;
}

std::pair<zk_rc, std::vector<zk_rc>> zk_multi(zookeeper_store& s, std::vector<zk_op> ops) {
  return await<std::pair<zk_rc, std::vector<zk_rc>>>([&](auto p) {
    s.multi(std::move(ops), [p](zk_rc rc, std::vector<zk_rc> results) {
      p->set_value({rc, std::move(results)});
    });
  });
}

zk_rc zk_ensure(zookeeper_store& s, const std::string& path) {
  return await<zk_rc>([&](auto p) { s.ensure_path(path, [p](zk_rc rc) { p->set_value(rc); }); });
}

fetched_instances zk_fetch(zookeeper_store& s, const std::string& root) {
  return await<fetched_instances>([&](auto p) {
    s.fetch_instances(root, [p](fetched_instances f) { p->set_value(std::move(f)); });
  });
}

zk_op op_create(std::string path, std::string data = {}) {
  return zk_op{zk_op::kind::create, std::move(path), std::move(data), -1};
}
zk_op op_set(std::string path, std::string data, std::int32_t version = -1) {
  return zk_op{zk_op::kind::set, std::move(path), std::move(data), version};
}
zk_op op_remove(std::string path, std::int32_t version = -1) {
  return zk_op{zk_op::kind::remove, std::move(path), {}, version};
}
zk_op op_check(std::string path, std::int32_t version) {
  return zk_op{zk_op::kind::check, std::move(path), {}, version};
}

// A watch whose two callbacks are recorded; `fired` is checked to run exactly once.
struct watch_probe {
  std::promise<std::pair<zk_rc, bool>> done;
  std::promise<int> fired;
  std::future<std::pair<zk_rc, bool>> done_f = done.get_future();
  std::future<int> fired_f = fired.get_future();
};

std::shared_ptr<watch_probe> zk_watch(zookeeper_store& s, const std::string& path) {
  auto w = std::make_shared<watch_probe>();
  s.watch(
    path, [w](zk_rc rc, bool exists) { w->done.set_value({rc, exists}); },
    [w](int type) { w->fired.set_value(type); });
  REQUIRE(w->done_f.wait_for(deadline) == std::future_status::ready);
  return w;
}

// "resources" data of about `bytes` bytes, as the orchestrator writes it.
std::string resources_of_size(std::size_t bytes) {
  std::vector<std::string> ids;
  std::size_t size = 10;
  for (int i = 0; size < bytes; ++i) {
    char id[40];
    std::snprintf(id, sizeof id, "%08x-0000-4000-8000-%012d", i, i);
    ids.emplace_back(id);
    size += ids.back().size() + 3;
  }
  return model::encode_resources(ids);
}

// ---- a TCP proxy the test can cut, to keep a client away from a running server --------

class tcp_proxy {
 public:
  explicit tcp_proxy(int target_port) : target_port_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = loopback(0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0)
      throw std::runtime_error("tcp_proxy: cannot listen");
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (::pipe2(wake_, O_CLOEXEC) != 0)
      throw std::runtime_error("tcp_proxy: pipe");
    thread_ = std::thread([this] { run(); });
  }
  ~tcp_proxy() {
    quit_ = true;
    wake();
    thread_.join();
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  std::string hosts() const { return "127.0.0.1:" + std::to_string(port_); }
  // Drops every connection and closes new ones at once, until restore().
  void cut() {
    cut_ = true;
    wake();
  }
  void restore() { cut_ = false; }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    return addr;
  }
  void wake() {
    char c = 1;
    [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
  }
  static bool send_all(int fd, const char* data, std::size_t len) {
    while (len > 0) {
      auto n = ::send(fd, data, len, MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      data += n;
      len -= static_cast<std::size_t>(n);
    }
    return true;
  }
  void run() {
    std::map<int, int> peer;  // fd -> the other end
    auto drop = [&](int fd) {
      int other = peer[fd];
      peer.erase(fd);
      peer.erase(other);
      ::close(fd);
      ::close(other);
    };
    while (!quit_) {
      if (cut_)
        while (!peer.empty())
          drop(peer.begin()->first);
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      for (auto& [fd, other] : peer)
        fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 1000) <= 0)
        continue;
      if (fds[1].revents) {
        char buf[64];
        [[maybe_unused]] auto n = ::read(wake_[0], buf, sizeof buf);
      }
      if (fds[0].revents & POLLIN) {
        int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client >= 0) {
          int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
          sockaddr_in addr = loopback(target_port_);
          if (cut_ || ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(client);
            ::close(server);
          } else {
            peer[client] = server;
            peer[server] = client;
          }
        }
      }
      for (std::size_t i = 2; i < fds.size(); ++i) {
        if (!fds[i].revents || !peer.count(fds[i].fd))
          continue;
        char buf[65536];
        auto n = ::recv(fds[i].fd, buf, sizeof buf, 0);
        if (n <= 0 || !send_all(peer[fds[i].fd], buf, static_cast<std::size_t>(n)))
          drop(fds[i].fd);
      }
    }
    while (!peer.empty())
      drop(peer.begin()->first);
  }

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};
  std::atomic<bool> cut_{false};
  std::atomic<bool> quit_{false};
  std::thread thread_;
};

bool mentions(const std::vector<std::string>& problems, const std::string& what) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(what) != std::string::npos; });
}

}  // namespace

TEST_CASE("zk_rc helpers name ZooKeeper's codes", "[integration][zookeeper]") {
  CHECK(io::zk_error_text(io::zk_connection_loss) == "connection loss");
  CHECK(io::zk_error_text(io::zk_no_node) == "no node");
  CHECK(io::zk_transient(io::zk_connection_loss));
  CHECK(io::zk_transient(io::zk_operation_timeout));
  CHECK(io::zk_transient(io::zk_session_expired));
  CHECK(io::zk_transient(io::zk_closing));
  CHECK_FALSE(io::zk_transient(io::zk_ok));
  CHECK_FALSE(io::zk_transient(io::zk_no_node));
  CHECK_FALSE(io::zk_transient(io::zk_bad_version));
  CHECK_FALSE(io::zk_transient(io::zk_node_exists));
}

TEST_CASE("zookeeper_store: get, create, set, remove with versions", "[integration][zookeeper]") {
  store_fixture zk(shared_server().hosts());
  auto& s = *zk;
  CHECK(s.connected());
  CHECK(s.session_id() != 0);
  REQUIRE(zk_ensure(s, "/basic") == io::zk_ok);

  auto created = zk_create(s, "/basic/a", "hello");
  CHECK(created.first == io::zk_ok);
  CHECK(created.second == "/basic/a");
  CHECK(zk_create(s, "/basic/a", "again").first == io::zk_node_exists);
  CHECK(zk_create(s, "/basic/missing-parent/x").first == io::zk_no_node);

  auto got = zk_get(s, "/basic/a");
  CHECK(got.rc == io::zk_ok);
  CHECK(got.data == "hello");
  CHECK(got.version == 0);

  CHECK(zk_set(s, "/basic/a", "nope", 5).first == io::zk_bad_version);
  auto set1 = zk_set(s, "/basic/a", "world", 0);
  CHECK(set1.first == io::zk_ok);
  CHECK(set1.second == 1);
  auto set2 = zk_set(s, "/basic/a", "world2", -1);  // any version
  CHECK(set2.first == io::zk_ok);
  CHECK(set2.second == 2);
  got = zk_get(s, "/basic/a");
  CHECK(got.data == "world2");
  CHECK(got.version == 2);

  auto missing = zk_get(s, "/basic/missing");
  CHECK(missing.rc == io::zk_no_node);
  CHECK(missing.data.empty());
  CHECK(missing.version == -1);
  CHECK(zk_set(s, "/basic/missing", "x").first == io::zk_no_node);
  CHECK(zk_remove(s, "/basic/missing") == io::zk_no_node);

  CHECK(zk_remove(s, "/basic/a", 0) == io::zk_bad_version);
  CHECK(zk_remove(s, "/basic/a", 2) == io::zk_ok);
  CHECK(zk_get(s, "/basic/a").rc == io::zk_no_node);

  REQUIRE(zk_create(s, "/basic/parent").first == io::zk_ok);
  REQUIRE(zk_create(s, "/basic/parent/child").first == io::zk_ok);
  CHECK(zk_remove(s, "/basic/parent") == io::zk_not_empty);

  // Empty data round-trips as empty.
  REQUIRE(zk_create(s, "/basic/empty", "").first == io::zk_ok);
  got = zk_get(s, "/basic/empty");
  CHECK(got.rc == io::zk_ok);
  CHECK(got.data.empty());
  CHECK(got.version == 0);

  // Binary data is kept byte for byte.
  std::string binary("a\0b\xff\n", 5);
  REQUIRE(zk_create(s, "/basic/binary", binary).first == io::zk_ok);
  CHECK(zk_get(s, "/basic/binary").data == binary);

  auto seq = zk_create(s, "/basic/seq-", "", io::sequential);
  CHECK(seq.first == io::zk_ok);
  CHECK(seq.second.rfind("/basic/seq-", 0) == 0);
  CHECK(seq.second.size() == std::string("/basic/seq-").size() + 10);

  CHECK(zk_create(s, "/basic/ephemeral", "e", io::ephemeral).first == io::zk_ok);
  CHECK(zk_create(s, "/basic/ephemeral/child").first != io::zk_ok);  // no children of ephemerals

  // Refused by the client at once; still answered through the callback.
  CHECK(zk_get(s, "relative/path").rc == io::zk_bad_arguments);
  CHECK(zk_set(s, "/trailing/", "x").first == io::zk_bad_arguments);
}

TEST_CASE("zookeeper_store: children and ensure_path", "[integration][zookeeper]") {
  store_fixture zk(shared_server().hosts());
  auto& s = *zk;

  CHECK(zk_ensure(s, "/deep/a/b/c") == io::zk_ok);
  CHECK(zk_ensure(s, "/deep/a/b/c") == io::zk_ok);  // all exist: still fine
  CHECK(zk_ensure(s, "/deep/a/x") == io::zk_ok);    // some exist
  CHECK(zk_ensure(s, "/") == io::zk_ok);
  CHECK(zk_ensure(s, "relative") == io::zk_bad_arguments);
  CHECK(zk_get(s, "/deep/a/b/c").rc == io::zk_ok);
  CHECK(zk_get(s, "/deep/a/b/c").data.empty());

  auto kids = zk_children(s, "/deep/a");
  CHECK(kids.first == io::zk_ok);
  CHECK(kids.second == std::vector<std::string>{"b", "x"});
  kids = zk_children(s, "/deep/a/b/c");
  CHECK(kids.first == io::zk_ok);
  CHECK(kids.second.empty());
  kids = zk_children(s, "/deep/none");
  CHECK(kids.first == io::zk_no_node);
  CHECK(kids.second.empty());

  for (int i = 0; i < 50; ++i)
    REQUIRE(zk_create(s, "/deep/many-" + std::to_string(1000 + i)).first == io::zk_ok);
  kids = zk_children(s, "/deep");
  CHECK(kids.second.size() == 51);
}

TEST_CASE("zookeeper_store: multi is all or nothing", "[integration][zookeeper]") {
  store_fixture zk(shared_server().hosts());
  auto& s = *zk;
  REQUIRE(zk_ensure(s, "/multi") == io::zk_ok);

  auto ok = zk_multi(s, {op_create("/multi/x", "1"), op_create("/multi/x/y", "2"),
                         op_set("/multi", "root"), op_check("/multi/x", 0)});
  CHECK(ok.first == io::zk_ok);
  CHECK(ok.second == std::vector<zk_rc>{0, 0, 0, 0});
  CHECK(zk_get(s, "/multi/x/y").data == "2");
  CHECK(zk_get(s, "/multi").data == "root");

  // A bad version in the middle: nothing of it is applied.
  auto bad = zk_multi(s, {op_create("/multi/n1"), op_create("/multi/n2"),
                          op_set("/multi/x", "changed", 7), op_create("/multi/n3")});
  CHECK(bad.first == io::zk_bad_version);
  REQUIRE(bad.second.size() == 4);
  auto why = std::find_if(bad.second.begin(), bad.second.end(), [](zk_rc rc) {
    return rc != io::zk_ok && rc != io::zk_runtime_inconsistency;
  });
  REQUIRE(why != bad.second.end());
  CHECK(*why == io::zk_bad_version);
  CHECK(why - bad.second.begin() == 2);
  CHECK(zk_get(s, "/multi/n1").rc == io::zk_no_node);
  CHECK(zk_get(s, "/multi/n2").rc == io::zk_no_node);
  CHECK(zk_get(s, "/multi/n3").rc == io::zk_no_node);
  auto x = zk_get(s, "/multi/x");
  CHECK(x.data == "1");
  CHECK(x.version == 0);

  // A failing check, and a create that collides.
  auto check = zk_multi(s, {op_create("/multi/m"), op_check("/multi/x", 3)});
  CHECK(check.first == io::zk_bad_version);
  CHECK(zk_get(s, "/multi/m").rc == io::zk_no_node);
  auto exists = zk_multi(s, {op_create("/multi/m"), op_create("/multi/x")});
  CHECK(exists.first == io::zk_node_exists);
  CHECK(zk_get(s, "/multi/m").rc == io::zk_no_node);
  auto gone = zk_multi(s, {op_set("/multi/nothing", "a")});
  CHECK(gone.first == io::zk_no_node);
  CHECK(gone.second == std::vector<zk_rc>{io::zk_no_node});

  // Removes with versions, children first.
  auto rm = zk_multi(s, {op_remove("/multi/x/y", 0), op_remove("/multi/x", 0)});
  CHECK(rm.first == io::zk_ok);
  CHECK(zk_get(s, "/multi/x").rc == io::zk_no_node);

  // The orchestrator's instance write: data, _reload and resources together.
  std::string root = "/multi/Thing";
  REQUIRE(zk_multi(s, {op_create(root),
                       op_create(model::instance_path(root, 0), model::encode_instance_data(1, 5)),
                       op_create(model::tmp_path(root, 0), model::encode_tmp()),
                       op_create(model::reload_path(root, 0), model::encode_reload(0)),
                       op_create(model::resources_path(root, 0), model::encode_resources({"a"}))})
            .first == io::zk_ok);
  auto bump = zk_multi(s, {op_set(model::instance_path(root, 0), model::encode_instance_data(2, 5), 0),
                           op_set(model::reload_path(root, 0), model::encode_reload(1), 0),
                           op_set(model::resources_path(root, 0),
                                  model::encode_resources({"a", "b"}), 0)});
  CHECK(bump.first == io::zk_ok);
  CHECK(zk_get(s, model::reload_path(root, 0)).version == 1);

  auto empty = zk_multi(s, {});
  CHECK(empty.first == io::zk_ok);
  CHECK(empty.second.empty());
}

TEST_CASE("zookeeper_store: large data, and a multi over jute.maxbuffer",
          "[integration][zookeeper]") {
  store_fixture zk(shared_server().hosts());
  auto& s = *zk;
  REQUIRE(zk_ensure(s, "/large") == io::zk_ok);

  // ~900 KB in one multi: two `resources` of 450 KB.
  std::string a = resources_of_size(450'000);
  std::string b = resources_of_size(450'000);
  b[b.size() - 4] = 'f';  // differ
  auto big = zk_multi(s, {op_create("/large/a", a), op_create("/large/b", b)});
  CHECK(big.first == io::zk_ok);
  CHECK(zk_get(s, "/large/a").data == a);
  CHECK(zk_get(s, "/large/b").data == b);

  // One value of ~1 MB, read back whole.
  std::string mb = resources_of_size(1'000'000);
  REQUIRE(mb.size() < 1'040'000);
  auto set_mb = zk_set(s, "/large/a", mb, 0);
  CHECK(set_mb.first == io::zk_ok);
  auto got = zk_get(s, "/large/a");
  CHECK(got.rc == io::zk_ok);
  CHECK(got.data.size() == mb.size());
  CHECK(got.data == mb);
  CHECK(got.version == 1);
  auto decoded = model::decode_resources(got.data);
  REQUIRE(decoded);
  CHECK(decoded->size() > 25'000);

  // Over jute.maxbuffer (1,048,575 bytes for the whole packet): the server drops the
  // connection; the caller sees a transient code and nothing is applied.
  auto before = zk.log->size();
  std::string c = resources_of_size(600'000);
  auto over = zk_multi(s, {op_set("/large/a", c), op_set("/large/b", c)});
  CHECK(over.first != io::zk_ok);
  CHECK(io::zk_transient(over.first));
  CHECK(over.first == io::zk_connection_loss);
  CHECK(over.second.size() == 2);

  // The store reconnects by itself (same session) and keeps working.
  auto connecting = zk.log->wait_for(session_state::connecting, before);
  REQUIRE(connecting);
  REQUIRE(zk.log->wait_for(session_state::connected, *connecting));
  CHECK(zk_get(s, "/large/a").data == mb);
  CHECK(zk_get(s, "/large/b").data == b);
  CHECK(zk_set(s, "/large/b", "small").first == io::zk_ok);
  CHECK(zk_get(s, "/large/b").data == "small");
}

TEST_CASE("zookeeper_store: watch fires once on a change", "[integration][zookeeper]") {
  store_fixture zk(shared_server().hosts());
  auto& s = *zk;
  REQUIRE(zk_ensure(s, "/watch") == io::zk_ok);

  auto absent = zk_watch(s, "/watch/node");
  CHECK(absent->done_f.get() == std::pair<zk_rc, bool>{io::zk_ok, false});
  CHECK(absent->fired_f.wait_for(0s) == std::future_status::timeout);
  REQUIRE(zk_create(s, "/watch/node", "1").first == io::zk_ok);
  REQUIRE(absent->fired_f.wait_for(deadline) == std::future_status::ready);
  CHECK(absent->fired_f.get() == ZOO_CREATED_EVENT);

  auto present = zk_watch(s, "/watch/node");
  CHECK(present->done_f.get() == std::pair<zk_rc, bool>{io::zk_ok, true});
  REQUIRE(zk_set(s, "/watch/node", "2").first == io::zk_ok);
  REQUIRE(present->fired_f.wait_for(deadline) == std::future_status::ready);
  CHECK(present->fired_f.get() == ZOO_CHANGED_EVENT);

  // One-shot: a second change does not call the old watch again (set_value would throw);
  // a new watch sees the delete.
  REQUIRE(zk_set(s, "/watch/node", "3").first == io::zk_ok);
  auto deleted = zk_watch(s, "/watch/node");
  REQUIRE(zk_remove(s, "/watch/node") == io::zk_ok);
  REQUIRE(deleted->fired_f.wait_for(deadline) == std::future_status::ready);
  CHECK(deleted->fired_f.get() == ZOO_DELETED_EVENT);

  // Two watches on one node both fire.
  REQUIRE(zk_create(s, "/watch/two").first == io::zk_ok);
  auto w1 = zk_watch(s, "/watch/two");
  auto w2 = zk_watch(s, "/watch/two");
  REQUIRE(zk_set(s, "/watch/two", "x").first == io::zk_ok);
  REQUIRE(w1->fired_f.wait_for(deadline) == std::future_status::ready);
  REQUIRE(w2->fired_f.wait_for(deadline) == std::future_status::ready);
  CHECK(w1->fired_f.get() == ZOO_CHANGED_EVENT);
  CHECK(w2->fired_f.get() == ZOO_CHANGED_EVENT);

  // A watch that could not be set ends at once, after `done` with the error.
  auto refused = zk_watch(s, "no-slash");
  CHECK(refused->done_f.get().first == io::zk_bad_arguments);
  REQUIRE(refused->fired_f.wait_for(deadline) == std::future_status::ready);
  CHECK(refused->fired_f.get() == ZOO_SESSION_EVENT);

  // A pending watch ends with ZOO_SESSION_EVENT when the store stops.
  auto pending = zk_watch(s, "/watch/never");
  s.stop();
  REQUIRE(pending->fired_f.wait_for(0s) == std::future_status::ready);
  CHECK(pending->fired_f.get() == ZOO_SESSION_EVENT);
}

TEST_CASE("zookeeper_store: fetch_instances reads a layout written by hand",
          "[integration][zookeeper]") {
  store_fixture zk(shared_server().hosts());
  auto& s = *zk;
  std::string root = model::resource_path("FetchThing");
  REQUIRE(zk_ensure(s, root) == io::zk_ok);

  auto write_instance = [&](int id, const std::string& data, const std::string* reload,
                            const std::string* resources) {
    REQUIRE(zk_create(s, model::instance_path(root, id), data).first == io::zk_ok);
    REQUIRE(zk_create(s, model::tmp_path(root, id)).first == io::zk_ok);
    if (reload)
      REQUIRE(zk_create(s, model::reload_path(root, id), *reload).first == io::zk_ok);
    if (resources)
      REQUIRE(zk_create(s, model::resources_path(root, id), *resources).first == io::zk_ok);
  };
  std::string r3 = model::encode_reload(3), r0 = model::encode_reload(0),
              r4 = model::encode_reload(4);
  std::string ab = model::encode_resources({"a", "b"}), mixed = R"({"ids":[7,"x"]})",
              c = model::encode_resources({"c"}), bad_ids = R"({"ids":[true]})";
  write_instance(0, model::encode_instance_data(2, 5), &r0, &ab);
  write_instance(1, R"({ "count": 10, "used": 2, "extra": "ok" })", &r0, &mixed);
  write_instance(2, "not json", &r4, &c);                               // undecodable data
  write_instance(3, model::encode_instance_data(0, 7), &r3, &bad_ids);  // undecodable ids
  write_instance(4, model::encode_instance_data(0, 7), &r0, nullptr);   // incomplete
  write_instance(12, model::encode_instance_data(0, 3), &r3, &c);
  // Not instances: ignored without a problem.
  REQUIRE(zk_create(s, root + "/x", "garbage").first == io::zk_ok);
  REQUIRE(zk_create(s, root + "/007", "garbage").first == io::zk_ok);
  REQUIRE(zk_create(s, root + "/-1", "garbage").first == io::zk_ok);
  // Versions: bump instance 0's _reload twice and its resources once.
  REQUIRE(zk_set(s, model::reload_path(root, 0), model::encode_reload(1)).first == io::zk_ok);
  REQUIRE(zk_set(s, model::reload_path(root, 0), model::encode_reload(2)).first == io::zk_ok);
  REQUIRE(zk_set(s, model::resources_path(root, 0), ab).first == io::zk_ok);

  auto f = zk_fetch(s, root);
  REQUIRE(f.rc == io::zk_ok);
  std::vector<int> ids;
  for (auto& [id, inst] : f.instances)
    ids.push_back(id);
  CHECK(ids == std::vector<int>{0, 1, 2, 3, 12});

  auto& i0 = f.instances.at(0);
  CHECK(i0.capacity == 5);
  CHECK(i0.reload_times == 2);
  CHECK(i0.ids == std::vector<std::string>{"a", "b"});
  CHECK(i0.versions == model::znode_versions{0, 2, 1});

  auto& i1 = f.instances.at(1);
  CHECK(i1.capacity == 10);
  CHECK(i1.reload_times == 0);
  CHECK(i1.ids == std::vector<std::string>{"7", "x"});
  CHECK(i1.versions == model::znode_versions{0, 0, 0});

  auto& i2 = f.instances.at(2);  // listed, capacity unknown, versions kept
  CHECK(i2.capacity == 0);
  CHECK(i2.reload_times == 4);
  CHECK(i2.ids == std::vector<std::string>{"c"});
  CHECK(i2.versions == model::znode_versions{0, 0, 0});

  auto& i3 = f.instances.at(3);
  CHECK(i3.capacity == 7);
  CHECK(i3.reload_times == 3);
  CHECK(i3.ids.empty());

  CHECK(f.instances.at(12).capacity == 3);

  INFO([&] {
    std::string all;
    for (auto& p : f.problems)
      all += p + "\n";
    return all;
  }());
  CHECK(f.problems.size() == 3);
  CHECK(mentions(f.problems, model::instance_path(root, 2) + ":"));
  CHECK(mentions(f.problems, model::resources_path(root, 3) + ":"));
  CHECK(mentions(f.problems, model::resources_path(root, 4) + ":"));
  CHECK_FALSE(mentions(f.problems, root + "/x"));
  CHECK_FALSE(mentions(f.problems, root + "/007"));

  // The decoded state rebuilds an orchestration.
  auto state = model::orchestration::from_instances(f.instances, 5);
  CHECK(state.where("a") == std::optional<int>{0});

  // A missing root is an empty orchestration, not an error; so is an empty one.
  auto none = zk_fetch(s, model::resource_path("NoSuchThing"));
  CHECK(none.rc == io::zk_ok);
  CHECK(none.instances.empty());
  CHECK(none.problems.empty());
  REQUIRE(zk_ensure(s, model::resource_path("EmptyThing")) == io::zk_ok);
  auto empty = zk_fetch(s, model::resource_path("EmptyThing"));
  CHECK(empty.rc == io::zk_ok);
  CHECK(empty.instances.empty());

  // Many instances with large resources.
  std::string many = model::resource_path("ManyThing");
  REQUIRE(zk_ensure(s, many) == io::zk_ok);
  std::string big = resources_of_size(195'000);
  for (int id = 0; id < 20; ++id) {
    auto r = zk_multi(s, {op_create(model::instance_path(many, id),
                                    model::encode_instance_data(5000, 5000)),
                          op_create(model::reload_path(many, id), model::encode_reload(id)),
                          op_create(model::resources_path(many, id), big)});
    REQUIRE(r.first == io::zk_ok);
  }
  auto m = zk_fetch(s, many);
  REQUIRE(m.rc == io::zk_ok);
  CHECK(m.problems.empty());
  REQUIRE(m.instances.size() == 20);
  CHECK(m.instances.at(19).reload_times == 19);
  CHECK(m.instances.at(19).ids.size() == m.instances.at(0).ids.size());
  CHECK(m.instances.at(0).ids.size() > 4000);
}

TEST_CASE("zookeeper_store: server stop and restart", "[integration][zookeeper]") {
  test::zookeeper_server server;
  store_fixture zk(server.hosts());
  auto& s = *zk;
  auto session = s.session_id();
  REQUIRE(zk_create(s, "/restart", "1").first == io::zk_ok);
  std::string root = model::resource_path("RestartThing");
  REQUIRE(zk_ensure(s, root) == io::zk_ok);

  auto before = zk.log->size();
  server.stop();
  auto connecting = zk.log->wait_for(session_state::connecting, before);
  REQUIRE(connecting);
  CHECK_FALSE(s.connected());

  // While disconnected: calls answer at once with a transient code.
  auto got = zk_get(s, "/restart");
  CHECK(got.rc == io::zk_connection_loss);
  auto fetched = zk_fetch(s, root);
  CHECK(io::zk_transient(fetched.rc));
  CHECK(io::zk_transient(zk_ensure(s, "/restart/x")));

  server.start();
  auto connected = zk.log->wait_for(session_state::connected, *connecting);
  REQUIRE(connected);
  CHECK(s.connected());
  CHECK(s.session_id() == zk.log->events()[*connected].second);
  INFO("session before " << session << ", after " << s.session_id());

  got = zk_get(s, "/restart");
  CHECK(got.rc == io::zk_ok);
  CHECK(got.data == "1");
  CHECK(zk_set(s, "/restart", "2", 0).first == io::zk_ok);
  CHECK(zk_fetch(s, root).rc == io::zk_ok);
}

TEST_CASE("zookeeper_store: an expired session is replaced by a new one",
          "[integration][zookeeper]") {
  test::zookeeper_server server;
  tcp_proxy proxy(server.port());
  // The client reaches the server only through the proxy; a short session expires quickly.
  store_fixture zk(proxy.hosts(), 2s);
  store_fixture observer(server.hosts());
  auto& s = *zk;
  auto old_session = s.session_id();
  REQUIRE(old_session != 0);

  REQUIRE(zk_ensure(s, "/exp") == io::zk_ok);
  REQUIRE(zk_create(s, "/exp/e", "mine", io::ephemeral).first == io::zk_ok);
  auto gone = zk_watch(*observer, "/exp/e");
  REQUIRE(gone->done_f.get() == std::pair<zk_rc, bool>{io::zk_ok, true});
  auto pending = zk_watch(s, "/exp/never");  // ends with the session

  auto before = zk.log->size();
  proxy.cut();
  REQUIRE(zk.log->wait_for(session_state::connecting, before));
  // The server expires the session: its ephemeral node goes.
  REQUIRE(gone->fired_f.wait_for(deadline) == std::future_status::ready);
  CHECK(gone->fired_f.get() == ZOO_DELETED_EVENT);

  proxy.restore();
  auto expired = zk.log->wait_for(session_state::expired, before);
  REQUIRE(expired);
  CHECK(zk.log->events()[*expired].second == old_session);
  auto connected = zk.log->wait_for(session_state::connected, *expired);
  REQUIRE(connected);
  auto new_session = zk.log->events()[*connected].second;
  CHECK(new_session != old_session);
  CHECK(new_session != 0);
  CHECK(s.session_id() == new_session);
  // connecting comes between expired and connected
  auto reconnecting = zk.log->wait_for(session_state::connecting, *expired);
  REQUIRE(reconnecting);
  CHECK(*reconnecting < *connected);

  REQUIRE(pending->fired_f.wait_for(deadline) == std::future_status::ready);
  CHECK(pending->fired_f.get() == ZOO_SESSION_EVENT);

  CHECK(zk_get(s, "/exp/e").rc == io::zk_no_node);
  CHECK(zk_create(s, "/exp/e", "again", io::ephemeral).first == io::zk_ok);
  CHECK(zk_get(*observer, "/exp/e").data == "again");
}

TEST_CASE("zookeeper_store: stop with calls in flight completes each callback once",
          "[integration][zookeeper]") {
  auto zk = std::make_unique<store_fixture>(shared_server().hosts());
  auto& s = **zk;
  REQUIRE(zk_ensure(s, "/inflight/node") == io::zk_ok);
  std::string root = model::resource_path("InflightThing");
  REQUIRE(zk_ensure(s, root + "/0") == io::zk_ok);

  constexpr int rounds = 400;
  constexpr int per_round = 10;
  auto calls = std::make_shared<std::vector<std::atomic<int>>>(rounds * per_round);
  auto stopped = std::make_shared<std::atomic<bool>>(false);
  auto late = std::make_shared<std::atomic<int>>(0);
  auto hit = [calls, stopped, late](std::size_t i) {
    if (stopped->load())
      ++*late;
    ++(*calls)[i];
  };
  std::string payload(2000, 'p');
  for (int r = 0; r < rounds; ++r) {
    std::size_t b = static_cast<std::size_t>(r) * per_round;
    s.get("/inflight/node", [hit, b](zk_rc, std::string, std::int32_t) { hit(b); });
    s.set("/inflight/node", payload, -1, [hit, b](zk_rc, std::int32_t) { hit(b + 1); });
    s.create("/inflight/c-", "", io::sequential, [hit, b](zk_rc, std::string) { hit(b + 2); });
    s.children("/inflight", [hit, b](zk_rc, std::vector<std::string>) { hit(b + 3); });
    s.remove("/inflight/none", -1, [hit, b](zk_rc) { hit(b + 4); });
    s.multi({op_check("/inflight/node", -1), op_set("/inflight/node", "m")},
            [hit, b](zk_rc, std::vector<zk_rc>) { hit(b + 5); });
    s.watch("/inflight/w", [hit, b](zk_rc, bool) { hit(b + 6); }, [hit, b](int) { hit(b + 7); });
    s.ensure_path("/inflight/e/" + std::to_string(r), [hit, b](zk_rc) { hit(b + 8); });
    s.fetch_instances(root, [hit, b](fetched_instances) { hit(b + 9); });
  }
  auto t0 = std::chrono::steady_clock::now();
  s.stop();
  auto took = std::chrono::steady_clock::now() - t0;
  stopped->store(true);
  CHECK(took < 30s);

  int missing = 0, twice = 0;
  for (auto& c : *calls) {
    missing += c.load() == 0;
    twice += c.load() > 1;
  }
  CHECK(missing == 0);
  CHECK(twice == 0);

  // Calls after stop still answer, once, with zk_closing.
  std::atomic<int> after{0};
  zk_rc after_rc = io::zk_ok;
  s.get("/inflight/node", [&](zk_rc rc, std::string, std::int32_t) {
    after_rc = rc;
    ++after;
  });
  CHECK(after == 1);
  CHECK(after_rc == io::zk_closing);
  CHECK_FALSE(s.connected());

  zk.reset();  // destructor: stop() again is a no-op
  CHECK(late->load() == 0);
}

TEST_CASE("zookeeper_store: no server reachable", "[integration][zookeeper]") {
  // Nothing listens on this port: the store keeps connecting; calls fail fast; stop() is quick.
  store_fixture zk("127.0.0.1:" + std::to_string(test::free_port()), 10s, false);
  auto& s = *zk;
  REQUIRE(zk.log->wait_for(session_state::connecting));
  CHECK_FALSE(s.connected());
  CHECK(zk_get(s, "/x").rc == io::zk_connection_loss);
  auto m = zk_multi(s, {op_create("/x"), op_create("/y")});
  CHECK(m.first == io::zk_connection_loss);
  CHECK(m.second == std::vector<zk_rc>{io::zk_connection_loss, io::zk_connection_loss});
  auto w = zk_watch(s, "/x");
  CHECK(w->done_f.get().first == io::zk_connection_loss);
  REQUIRE(w->fired_f.wait_for(deadline) == std::future_status::ready);
  CHECK(w->fired_f.get() == ZOO_SESSION_EVENT);
  auto t0 = std::chrono::steady_clock::now();
  s.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
}
