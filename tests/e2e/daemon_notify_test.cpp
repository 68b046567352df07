// The daemon process end to end: notifies published to a real mosquitto change the znodes of
// a real ZooKeeper; nothing is lost when the daemon is stopped, killed or the broker restarts.
#include <catch2/catch.hpp>

#include <future>
#include <set>

#include "io/zookeeper_store.hpp"
#include "model/orchestration.hpp"
#include "model/zk_layout.hpp"
#include "tests/fixtures/daemon_process.hpp"
#include "tests/fixtures/mosquitto_server.hpp"
#include "tests/fixtures/process.hpp"
#include "tests/fixtures/zookeeper_reader.hpp"
#include "tests/fixtures/zookeeper_server.hpp"

using namespace iota;
using namespace std::chrono_literals;

namespace {

const std::string topic = "cm/notify";

struct e2e {
  test::zookeeper_server zk;
  test::mosquitto_server broker;
  test::zookeeper_reader reader{zk.hosts()};
  std::unique_ptr<test::daemon_process> daemon;  // stopped before the reader closes

  void start_daemon(std::size_t batch = 1000) {
    test::daemon_options o;
    o.zookeeper = zk.hosts();
    o.mqtt_url = broker.url();
    o.batch_size = batch;
    daemon = std::make_unique<test::daemon_process>(o);
    daemon->start();
  }

  // The znodes as a fresh reader sees them (problems would mean an id on two instances).
  model::orchestration read(const std::string& resource, std::vector<std::string>* problems = nullptr) {
    std::promise<model::fetched_instances> p;
    auto f = p.get_future();
    reader->fetch_instances(model::resource_path(resource),
                            [&p](model::fetched_instances r) { p.set_value(std::move(r)); });
    REQUIRE(f.wait_for(60s) == std::future_status::ready);
    auto r = f.get();
    REQUIRE(r.rc == io::zk_ok);
    return model::orchestration::from_instances(std::move(r.instances), 5000, problems);
  }

  bool wait_placed(const std::string& resource, std::size_t n, std::chrono::seconds deadline = 180s) {
    return test::wait_until([&] { return read(resource).resources() == n; }, deadline);
  }
};

std::string create(const std::string& id) {
  return R"({"o":"c","t":"Thing","k":{"id":")" + id + R"("},"instance":{"id":")" + id + R"("}})";
}

std::vector<std::string> creates(int from, int to, const std::string& prefix = "dev-") {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i)
    out.push_back(create(prefix + std::to_string(i)));
  return out;
}

void check_exact(const model::orchestration& o, int from, int to, const std::string& prefix = "dev-") {
  for (int i = from; i < to; ++i)
    REQUIRE(o.where(prefix + std::to_string(i)).has_value());
  for (auto& [id, inst] : o.instances())
    CHECK(inst.used() <= static_cast<std::size_t>(inst.capacity));
}

}  // namespace

TEST_CASE_METHOD(e2e, "published notifies of every shape change the znodes", "[e2e][mqtt]") {
  start_daemon();
  test::mqtt_publish(broker.url(), topic,
                     {create("a"), R"({"o":"c","t":"Thing","k":"b"})", R"({"o":"c","t":"Thing","k":7})",
                      R"({"o":"bc","t":"Thing","keys":[{"id":"c"},"d"]})",
                      R"({"o":"c","t":"Rule","k":{"id":"r1"}})", "garbage", std::string((1 << 20) + 1, 'x'),
                      R"({"o":"c","t":"Unknown","k":"z"})", R"({"o":"bd","t":"Thing","where":{"id":["a","b"]}})",
                      R"({"o":"u","t":"Thing","k":{"id":"c"}})", R"({"o":"d","t":"Thing","k":{"id":"d"}})"});
  REQUIRE(test::wait_until([&] {
    auto o = read("Thing");
    return o.resources() == 2 && o.where("7") && o.where("c");
  }, 120s));
  CHECK(read("Rule").where("r1").has_value());
  CHECK(daemon->count_in_log("dropping notifies of kind not_json") == 1);
  CHECK(daemon->count_in_log("dropping notifies of kind too_large") == 1);
  CHECK(daemon->count_in_log("dropping notifies of kind unknown_table") == 1);
}

TEST_CASE_METHOD(e2e, "notifies published while the daemon is stopped are applied when it is back",
                 "[e2e][mqtt][restart]") {
  start_daemon();
  daemon->stop();
  test::mqtt_publish(broker.url(), topic, creates(0, 1000));
  daemon->start();
  REQUIRE(wait_placed("Thing", 1000));
  check_exact(read("Thing"), 0, 1000);
}

TEST_CASE_METHOD(e2e, "a daemon killed mid-stream loses nothing and doubles nothing",
                 "[e2e][mqtt][restart]") {
  start_daemon();
  auto publisher = std::async(std::launch::async, [&] { test::mqtt_publish(broker.url(), topic, creates(0, 6000)); });
  REQUIRE(test::wait_until([&] { return read("Thing").resources() >= 500; }, 120s));
  daemon->kill();  // kill -9 while notifies are in flight and queued
  publisher.get();
  daemon->start();
  REQUIRE(wait_placed("Thing", 6000));
  std::vector<std::string> problems;
  auto o = read("Thing", &problems);
  CHECK(problems.empty());  // no id on two instances
  check_exact(o, 0, 6000);
}

TEST_CASE_METHOD(e2e, "a broker restart mid-stream loses nothing", "[e2e][mqtt][restart]") {
  start_daemon();
  test::mqtt_publish(broker.url(), topic, creates(0, 2000));
  broker.stop();
  broker.start();
  test::mqtt_publish(broker.url(), topic, creates(2000, 4000));
  REQUIRE(wait_placed("Thing", 4000));
  check_exact(read("Thing"), 0, 4000);
}

TEST_CASE_METHOD(e2e, "a burst of 10,000 creates ends with exactly 10,000 ids placed", "[e2e][mqtt]") {
  start_daemon();
  test::mqtt_publish(broker.url(), topic, creates(0, 10000));
  REQUIRE(wait_placed("Thing", 10000));
  std::vector<std::string> problems;
  auto o = read("Thing", &problems);
  CHECK(problems.empty());
  check_exact(o, 0, 10000);
  CHECK(o.instances().size() == 2);  // 5,000 per instance, filled as createResource does
}
