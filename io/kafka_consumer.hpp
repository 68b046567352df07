#pragma once
// Heartbeat consumer on librdkafka (SPEC section 5): group `iota-orchestrator-<Resource>`,
// topic `HeartBeat`, starting at the latest offset. Its poll loop runs on its own thread and
// hands each message's value to the callback.
#include <functional>
#include <memory>
#include <string>

namespace iota::io {

struct kafka_consumer_settings {
  std::string brokers = "localhost:9092";
  std::string group_id;                 // "iota-orchestrator-Thing"
  std::string topic = "HeartBeat";
};

class kafka_consumer {
 public:
  virtual ~kafka_consumer() = default;
  using message_handler = std::function<void(std::string value)>;
  // healthy == false on consumer errors (broker down, ...); true again once messages or an
  // assignment arrive. `detail` says what happened.
  using state_handler = std::function<void(bool healthy, const std::string& detail)>;
  virtual void start(message_handler on_message, state_handler on_state) = 0;
  // Leaves the group and joins the poll thread; no handler runs after it returns.
  virtual void stop() = 0;
  virtual bool assigned() const = 0;  // partitions assigned (tests wait for it before producing)
};

std::unique_ptr<kafka_consumer> make_kafka_consumer(kafka_consumer_settings settings);

}  // namespace iota::io
