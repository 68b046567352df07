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
  // [added] Directory for paho's file persistence (MQTTCLIENT_PERSISTENCE_DEFAULT). A message
  // that paho had to acknowledge without handing it to the handler (only while stop() runs, see
  // mqtt_client_paho.cpp) is kept here and delivered first by the next client with the same
  // client id, directory and first broker URL. Empty: no persistence (such a message would be
  // lost); the daemon must set it, next to its journal.
  std::string persistence_dir;
};

struct mqtt_message {
  std::string topic;
  std::string payload;
  std::uint64_t sequence = 0;  // 1, 2, 3... in arrival order within this client's lifetime
};

class mqtt_client {
 public:
  virtual ~mqtt_client() = default;

  // Called on the client library's thread, in arrival order, one call at a time. The callback
  // decides when the message counts as taken over: the broker gets its PUBACK only after the
  // handler returned normally (see the implementation's header comment for exactly when). A
  // handler that throws is called again with the same message (backoff 100 ms doubling up to
  // reconnect_period) until it returns or stop() is called; meanwhile nothing else is delivered.
  // It must not destroy the client (it may call stop()).
  using message_handler = std::function<void(mqtt_message)>;
  // connected == true after every (re)connect with the subscription in place.
  using state_handler = std::function<void(bool connected, const std::string& detail)>;

  // Both handlers are set before start(). Returns at once; connects (and retries every
  // reconnect_period, forever) in the background. Throws std::runtime_error if the client cannot
  // be created (bad persistence_dir), std::logic_error if called twice.
  virtual void start(message_handler on_message, state_handler on_state) = 0;
  // Disconnects cleanly (the broker keeps the session); no handler runs after it returns.
  // Bounded: it waits at most ~5 s for the broker, plus for a handler call already running to
  // return. Idempotent.
  virtual void stop() = 0;
  virtual bool connected() const = 0;
};

// "mqtt://h:p,tcp://h2:p2" -> {"tcp://h:p", "tcp://h2:p2"}; empty on a malformed list.
// Blanks around entries are ignored; a missing port means 1883; a bare "host:port" is tcp;
// only mqtt:// and tcp:// are accepted (no TLS, no credentials, no path).
std::vector<std::string> parse_broker_urls(const std::string& list);

// Throws std::invalid_argument if settings.brokers is empty or holds a malformed URL.
std::unique_ptr<mqtt_client> make_mqtt_client(mqtt_settings settings);

}  // namespace iota::io
