// io/kafka_consumer_rdkafka.cpp against the local Kafka stand-in (apps/iota-kafka-mock, run by
// tests/fixtures/kafka_mock). Every wait is on a condition with a generous deadline: CI is a
// loaded 2-core machine, and a consumer group join alone takes ~3 s.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <sys/wait.h>
#include <utility>
#include <vector>

#include "io/kafka_consumer.hpp"
#include "io/kafka_producer.hpp"
#include "tests/fixtures/kafka_mock.hpp"
#include "tests/fixtures/process.hpp"

using namespace std::chrono_literals;
namespace io = iota::io;
namespace test = iota::test;

namespace {

constexpr auto deadline = 60s;

std::string heartbeat(int seq) {
  return R"({"resource":"Thing","instanceId":"3","resources":5000,"seq":)" +
         std::to_string(seq) + "}";
}

// What a consumer's handlers saw; they run on the consumer's poll thread.
class recorder {
 public:
  void message(std::string value) {
    std::lock_guard lk(mu_);
    messages_.push_back(std::move(value));
    count_.fetch_add(1);
  }
  void state(bool healthy, const std::string& detail) {
    std::lock_guard lk(mu_);
    states_.emplace_back(healthy, detail);
  }
  std::size_t count() const { return count_.load(); }
  std::vector<std::string> messages() const {
    std::lock_guard lk(mu_);
    return messages_;
  }
  bool saw_state(bool healthy) const {
    std::lock_guard lk(mu_);
    return std::any_of(states_.begin(), states_.end(),
                       [&](auto& s) { return s.first == healthy; });
  }
  std::string states_text() const {
    std::lock_guard lk(mu_);
    std::string out;
    for (auto& [h, d] : states_)
      out += std::string(h ? "up: " : "down: ") + d + "\n";
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> messages_;
  std::vector<std::pair<bool, std::string>> states_;
  std::atomic<std::size_t> count_{0};
};

std::unique_ptr<io::kafka_consumer> start_consumer(const std::string& brokers,
                                                   const std::string& group, recorder& rec) {
  auto consumer = io::make_kafka_consumer({brokers, group, "HeartBeat"});
  consumer->start([&rec](std::string v) { rec.message(std::move(v)); },
                  [&rec](bool healthy, const std::string& d) { rec.state(healthy, d); });
  return consumer;
}

// Retries while the producer's local queue is full; the delivery thread drains it.
void produce_all(io::kafka_producer& producer, int from, int to) {
  for (int i = from; i < to; ++i)
    while (!producer.produce("HeartBeat", heartbeat(i)))
      producer.flush(10);
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

TEST_CASE("kafka consumer joins its group and gets assigned", "[kafka]") {
  test::kafka_mock mock;
  recorder rec;
  auto consumer = start_consumer(mock.bootstrap(), "iota-orchestrator-Thing", rec);
  CHECK_FALSE(consumer->assigned());
  REQUIRE(test::wait_until([&] { return consumer->assigned(); }, deadline));
  // The state handler runs on the poll thread just after assigned() turns true.
  INFO(rec.states_text());
  CHECK(test::wait_until([&] { return rec.saw_state(true); }, deadline));
  CHECK_FALSE(rec.saw_state(false));
  consumer->stop();
  CHECK_FALSE(consumer->assigned());
}

TEST_CASE("kafka: 1,000 heartbeats produced after assignment all arrive, in order", "[kafka]") {
  test::kafka_mock mock;
  recorder rec;
  auto consumer = start_consumer(mock.bootstrap(), "iota-orchestrator-Thing", rec);
  REQUIRE(test::wait_until([&] { return consumer->assigned(); }, deadline));

  auto producer = io::make_kafka_producer(mock.bootstrap());
  produce_all(*producer, 0, 1000);
  CHECK(producer->flush(static_cast<int>(std::chrono::milliseconds{deadline}.count())) == 0);
  REQUIRE(test::wait_until([&] { return rec.count() >= 1000; }, deadline));
  consumer->stop();

  auto got = rec.messages();
  REQUIRE(got.size() == 1000);
  for (int i = 0; i < 1000; ++i)
    REQUIRE(got[static_cast<std::size_t>(i)] == heartbeat(i));
}

TEST_CASE("kafka: a message produced before the consumer joined is not delivered", "[kafka]") {
  test::kafka_mock mock;
  auto producer = io::make_kafka_producer(mock.bootstrap());
  REQUIRE(producer->produce("HeartBeat", "early"));
  REQUIRE(producer->flush(static_cast<int>(std::chrono::milliseconds{deadline}.count())) == 0);

  recorder rec;
  auto consumer = start_consumer(mock.bootstrap(), "iota-orchestrator-Thing", rec);
  REQUIRE(test::wait_until([&] { return consumer->assigned(); }, deadline));
  REQUIRE(producer->produce("HeartBeat", "late"));
  REQUIRE(producer->flush(static_cast<int>(std::chrono::milliseconds{deadline}.count())) == 0);
  // One partition: had "early" been delivered, it would have come before "late".
  REQUIRE(test::wait_until([&] { return rec.count() >= 1; }, deadline));
  consumer->stop();
  CHECK(rec.messages() == std::vector<std::string>{"late"});
}

TEST_CASE("kafka: consumers in different groups each get every message", "[kafka]") {
  test::kafka_mock mock;
  recorder thing, rule;
  auto a = start_consumer(mock.bootstrap(), "iota-orchestrator-Thing", thing);
  auto b = start_consumer(mock.bootstrap(), "iota-orchestrator-Rule", rule);
  REQUIRE(test::wait_until([&] { return a->assigned() && b->assigned(); }, deadline));

  auto producer = io::make_kafka_producer(mock.bootstrap());
  produce_all(*producer, 0, 200);
  CHECK(producer->flush(static_cast<int>(std::chrono::milliseconds{deadline}.count())) == 0);
  REQUIRE(test::wait_until([&] { return thing.count() >= 200 && rule.count() >= 200; },
                           deadline));
  a->stop();
  b->stop();
  CHECK(thing.messages().size() == 200);
  CHECK(rule.messages() == thing.messages());
}

TEST_CASE("kafka: the cluster going away makes the consumer unhealthy - stop() stays prompt",
          "[kafka]") {
  test::kafka_mock mock;
  recorder rec;
  auto consumer = start_consumer(mock.bootstrap(), "iota-orchestrator-Thing", rec);
  REQUIRE(test::wait_until([&] { return consumer->assigned(); }, deadline));
  {
    auto producer = io::make_kafka_producer(mock.bootstrap());
    REQUIRE(producer->produce("HeartBeat", heartbeat(1)));
    REQUIRE(producer->flush(static_cast<int>(std::chrono::milliseconds{deadline}.count())) == 0);
  }
  REQUIRE(test::wait_until([&] { return rec.count() >= 1; }, deadline));
  CHECK_FALSE(rec.saw_state(false));

  mock.stop();
  INFO(rec.states_text());
  REQUIRE(test::wait_until([&] { return rec.saw_state(false); }, deadline));

  auto t0 = std::chrono::steady_clock::now();
  consumer->stop();
  consumer.reset();  // rd_kafka_destroy too must not wait for the dead cluster
  double took = seconds_since(t0);
  std::printf("kafka: stop() + destroy with the cluster gone took %.2f s\n", took);
  CHECK(took < 15.0);
}

TEST_CASE("iota-kafka-mock prints its bootstrap list and exits 0 on SIGTERM", "[kafka]") {
  test::temp_dir dir("iota-kafka-mock-test");
  std::string log = dir.path() + "/out.log";
  std::string file = dir.path() + "/bootstrap";
  test::child_process mock({IOTA_KAFKA_MOCK_BIN, "--brokers", "2", "--topic", "Other",
                            "--bootstrap-file", file},
                           {}, log);
  std::string line;
  REQUIRE(test::wait_until(
    [&] {
      std::ifstream in(log);
      for (std::string l; std::getline(in, l);)
        if (l.rfind("bootstrap: ", 0) == 0) {
          line = l;
          return true;
        }
      return !mock.running();
    },
    30s));
  INFO(test::file_tail(log));
  REQUIRE(mock.running());
  std::string list = line.substr(std::string("bootstrap: ").size());
  CHECK(std::count(list.begin(), list.end(), ',') == 1);  // two brokers
  CHECK(list.rfind("127.0.0.1:", 0) == 0);
  std::string from_file;
  std::getline(std::ifstream(file), from_file);
  CHECK(from_file == list);

  mock.stop();
  CHECK_FALSE(mock.running());
  CHECK(WIFEXITED(mock.exit_status()));
  CHECK(WEXITSTATUS(mock.exit_status()) == 0);
}

// The mock keeps only the last 5 MB (or 100,000 message sets) of a partition, as a real broker's
// retention would: 100,000 heartbeats are ~9 MB, so a consumer that fell further behind would
// lose the oldest ones (offset out of range, reset to the end). The producer therefore stays
// at most `window` messages (~3.5 MB) ahead of the consumer.
TEST_CASE("kafka: 100,000 heartbeats produced and consumed", "[kafka][throughput]") {
  constexpr int total = 100'000;
  constexpr int window = 40'000;
  constexpr int chunk = 10'000;
  test::kafka_mock mock;
  recorder rec;
  auto consumer = start_consumer(mock.bootstrap(), "iota-orchestrator-Thing", rec);
  REQUIRE(test::wait_until([&] { return consumer->assigned(); }, deadline));

  auto producer = io::make_kafka_producer(mock.bootstrap());
  auto t0 = std::chrono::steady_clock::now();
  for (int from = 0; from < total; from += chunk) {
    REQUIRE(test::wait_until(
      [&] { return from - static_cast<int>(rec.count()) <= window - chunk; }, deadline));
    produce_all(*producer, from, std::min(from + chunk, total));
  }
  double queued = seconds_since(t0);
  CHECK(producer->flush(static_cast<int>(std::chrono::milliseconds{deadline}.count())) == 0);
  double delivered = seconds_since(t0);
  REQUIRE(test::wait_until([&] { return rec.count() >= total; }, 2 * deadline));
  double consumed = seconds_since(t0);
  consumer->stop();

  std::printf("kafka: %d heartbeats: queued in %.2f s (%.0f msg/s), delivered in %.2f s "
              "(%.0f msg/s), consumed in %.2f s (%.0f msg/s)\n",
              total, queued, total / queued, delivered, total / delivered, consumed,
              total / consumed);
  auto got = rec.messages();
  REQUIRE(got.size() == static_cast<std::size_t>(total));
  for (int i = 0; i < total; ++i)
    if (got[static_cast<std::size_t>(i)] != heartbeat(i))
      FAIL("message " << i << " is " << got[static_cast<std::size_t>(i)]);
}
