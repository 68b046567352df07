// The fault fixtures against real ZooKeeper servers, through the store the daemon uses: a
// three-server ensemble losing its leader and its quorum, and the TCP fault proxy freezing,
// passing and cutting a client's link.
#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "io/zookeeper_store.hpp"
#include "tests/fixtures/fault_proxy.hpp"
#include "tests/fixtures/process.hpp"
#include "tests/fixtures/zookeeper_ensemble.hpp"
#include "tests/fixtures/zookeeper_server.hpp"

using namespace iota;
using namespace std::chrono_literals;

namespace {

// One set of `path` through `store`: its rc, or nullopt if no answer came within `wait`.
std::optional<io::zk_rc> set_once(io::zookeeper_store& store, const std::string& path, const std::string& data,
                                  std::chrono::milliseconds wait) {
  auto p = std::make_shared<std::promise<io::zk_rc>>();
  auto f = p->get_future();
  store.set(path, data, -1, [p](io::zk_rc rc, std::int32_t) { p->set_value(rc); });
  if (f.wait_for(wait) != std::future_status::ready)
    return std::nullopt;
  return f.get();
}

io::zk_rc create_once(io::zookeeper_store& store, const std::string& path) {
  std::promise<io::zk_rc> p;
  auto f = p.get_future();
  store.create(path, "0", io::persistent, [&p](io::zk_rc rc, std::string) { p.set_value(rc); });
  REQUIRE(f.wait_for(60s) == std::future_status::ready);
  return f.get();
}

// Sets `path` until a set succeeds (the store reconnects by itself); true if one did in time.
bool set_succeeds(io::zookeeper_store& store, const std::string& path, std::chrono::milliseconds deadline) {
  return test::wait_until([&] { return set_once(store, path, "1", 5s) == io::zk_ok; }, deadline);
}

struct started_store {
  std::shared_ptr<io::zookeeper_store> store;
  started_store(const std::string& hosts, std::chrono::milliseconds session) {
    store = io::make_zookeeper_store(hosts, session);
    store->start();
    REQUIRE(test::wait_until([&] { return store->connected(); }, 60s));
  }
  ~started_store() { store->stop(); }
};

}  // namespace

TEST_CASE("a three-server ensemble: its leader killed, another leads; two down, no writes; one back, writes "
          "resume in the same session",
          "[integration][zookeeper][ensemble][faults]") {
  test::zookeeper_ensemble zk;
  REQUIRE(zk.leader() >= 0);
  started_store s{zk.hosts(), 6s};
  auto session = s.store->session_id();
  REQUIRE(create_once(*s.store, "/probe") == io::zk_ok);

  auto first = static_cast<std::size_t>(zk.leader());
  zk.kill(first);
  REQUIRE(zk.wait_for_quorum(60s));
  CHECK(zk.leader() >= 0);
  CHECK(static_cast<std::size_t>(zk.leader()) != first);
  CHECK(set_succeeds(*s.store, "/probe", 60s));

  // Two of three down: no quorum, no write, for longer than the session timeout.
  auto second = static_cast<std::size_t>(zk.leader());
  zk.kill(second);
  auto lost = std::chrono::steady_clock::now();
  int tried = 0, written = 0;
  while (std::chrono::steady_clock::now() - lost < 10s) {  // the fault's length, not a wait for an event
    ++tried;
    written += set_once(*s.store, "/probe", "2", 2s) == io::zk_ok ? 1 : 0;
    std::this_thread::sleep_for(100ms);  // paces the attempts
  }
  CHECK(tried > 10);
  CHECK(written == 0);
  CHECK(zk.leader() == -1);

  // One back: a quorum of two; the new leader gives every session its full timeout again, so
  // the client keeps its session (and an ephemeral znode, a leader's election node, with it).
  zk.start(first);
  REQUIRE(zk.wait_for_quorum(90s));
  CHECK(set_succeeds(*s.store, "/probe", 60s));
  CHECK(s.store->session_id() == session);
}

TEST_CASE("the fault proxy holds frozen bytes, passes them after, slows them, and a cut makes the client reconnect",
          "[integration][zookeeper][faults][proxy]") {
  test::zookeeper_server zk;
  test::fault_proxy proxy{zk.port()};
  std::atomic<int> connects{0};
  auto store = io::make_zookeeper_store(proxy.address(), 10s);
  store->add_session_listener([&](io::session_state st, std::int64_t) {
    if (st == io::session_state::connected)
      ++connects;
  });
  store->start();
  REQUIRE(test::wait_until([&] { return store->connected(); }, 60s));
  CHECK(proxy.open_connections() == 1);
  REQUIRE(create_once(*store, "/probe") == io::zk_ok);
  auto session = store->session_id();

  proxy.freeze();
  auto sent = proxy.bytes_to_server();
  auto p = std::make_shared<std::promise<io::zk_rc>>();
  auto answered = p->get_future();
  store->set("/probe", "frozen", -1, [p](io::zk_rc rc, std::int32_t) { p->set_value(rc); });
  CHECK(answered.wait_for(1500ms) == std::future_status::timeout);  // held, not lost
  CHECK(proxy.bytes_to_server() == sent);
  proxy.pass();
  REQUIRE(answered.wait_for(60s) == std::future_status::ready);
  CHECK(answered.get() == io::zk_ok);

  // Slowed: every chunk waits 300 ms each way.
  proxy.slow(300ms);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(set_once(*store, "/probe", "slow", 30s) == io::zk_ok);
  CHECK(std::chrono::steady_clock::now() - t0 >= 600ms);
  proxy.pass();

  proxy.cut();
  CHECK(test::wait_until([&] { return connects.load() >= 2 && store->connected(); }, 60s));
  CHECK(store->session_id() == session);  // a reset link, the same session
  CHECK(set_succeeds(*store, "/probe", 60s));
  store->stop();
}
