#pragma once
// The notify intake: MQTT client + journal + flow control, on the client library's thread.
// Each message is appended to the journal (so it survives the daemon's death) and only then
// handed on and acknowledged to the broker; while `window` notifies are handed on but not yet
// durable downstream, the intake waits, so the broker holds the rest (back-pressure) instead
// of the daemon's memory.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "io/mqtt_client.hpp"
#include "io/notify_journal.hpp"

namespace iota::io {

// Counts notifies handed on but not yet durable; `acquire` blocks while the window is full.
class intake_window {
 public:
  explicit intake_window(std::size_t size) : size_(size) {}
  // False when closed (shutting down) instead of acquiring.
  bool acquire();
  void release(std::size_t n = 1);
  void close();
  std::size_t in_use() const;

 private:
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::size_t size_;
  std::size_t used_ = 0;
  bool closed_ = false;
};

class notify_intake {
 public:
  using deliver_fn = std::function<void(std::uint64_t seq, std::string payload)>;
  using state_fn = std::function<void(bool connected, const std::string& detail)>;

  notify_intake(std::shared_ptr<notify_journal> journal, std::shared_ptr<intake_window> window,
                std::unique_ptr<mqtt_client> client);
  ~notify_intake();

  // Hands on `replay` (journal records not yet durable when the daemon last stopped) first,
  // then starts the MQTT client.
  void start(std::vector<journal_record> replay, deliver_fn deliver, state_fn on_state);
  void stop();

 private:
  std::shared_ptr<notify_journal> journal_;
  std::shared_ptr<intake_window> window_;
  std::unique_ptr<mqtt_client> client_;
};

}  // namespace iota::io
