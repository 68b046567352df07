#pragma once
// The Kafka producer of the reference worker's heartbeats; implemented
// beside the consumer over librdkafka (io/kafka_consumer_rdkafka.cpp).
#include <memory>
#include <string>

namespace iota::io {

// A producer over one broker connection.
class kafka_producer {
 public:
  virtual ~kafka_producer() = default;
  // Queues a message (never blocks); false if the local queue is full.
  virtual bool produce(const std::string& topic, const std::string& value) = 0;
  // Waits up to `timeout_ms` for queued messages to be delivered; returns how many remain.
  virtual int flush(int timeout_ms) = 0;
};

std::unique_ptr<kafka_producer> make_kafka_producer(const std::string& brokers);

}  // namespace iota::io
