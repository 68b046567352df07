#pragma once
// MQTT client for the notify stream (SPEC sections 4 and 9), over paho-mqtt-c (MQTTAsync).
// QoS 1 subscription with a persistent session (clean session off, stable client id), so
// notifies published while the daemon is away are delivered when it comes back.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace iota::io {

struct mqtt_settings {
  std::vector<std::string> brokers;        // "mqtt://host:port" or "tcp://host:port", tried in turn
  std::string client_id = "iota-orchestrator";
  std::string topic = "cm/notify";
  std::chrono::milliseconds reconnect_period{10000};
  std::chrono::seconds keep_alive{20};
};

struct mqtt_message {
  std::string topic;
  std::string payload;
  std::uint64_t sequence = 0;  // 1, 2, 3... in arrival order within this client's lifetime
};

class mqtt_client {
 public:
  virtual ~mqtt_client() = default;

  // Called on the client library's thread, in arrival order. The callback decides when the
  // message counts as taken over: see the implementation's header comment for exactly when
  // the broker is acknowledged.
  using message_handler = std::function<void(mqtt_message)>;
  // connected == true after every (re)connect with the subscription in place.
  using state_handler = std::function<void(bool connected, const std::string& detail)>;

  // Both handlers are set before start().
  virtual void start(message_handler on_message, state_handler on_state) = 0;
  // Disconnects; no handler runs after it returns.
  virtual void stop() = 0;
  virtual bool connected() const = 0;
};

// "mqtt://h:p,tcp://h2:p2" -> {"tcp://h:p", "tcp://h2:p2"}; empty on a malformed list.
std::vector<std::string> parse_broker_urls(const std::string& list);

std::unique_ptr<mqtt_client> make_mqtt_client(mqtt_settings settings);

}  // namespace iota::io
