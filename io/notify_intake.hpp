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

// What the consumer of the notifies (the mqtt_bridge) reports back. The intake owns the window
// and the journal's durable mark: it takes a window slot for each notify it hands on and gives
// it back here, so flow control has one owner.
class notify_settlement {
 public:
  virtual ~notify_settlement() = default;
  // The journal's durable mark when the daemon started: the notifies after it are handed on.
  virtual std::uint64_t durable_mark() const = 0;
  // `count` notifies handed on became durable in ZooKeeper (or change nothing), and every
  // notify up to `mark` is durable now. Any thread.
  virtual void settle(std::size_t count, std::uint64_t mark) = 0;
  // Handed on and not yet settled.
  virtual std::size_t in_flight() const = 0;
};

class notify_intake final : public notify_settlement {
 public:
  using deliver_fn = std::function<void(std::uint64_t seq, std::string payload)>;
  using state_fn = std::function<void(bool connected, const std::string& detail)>;

  // A new client per connection: one for start(), one for every resume().
  using client_factory = std::function<std::unique_ptr<mqtt_client>()>;

  notify_intake(std::shared_ptr<notify_journal> journal, std::shared_ptr<intake_window> window,
                client_factory make_client);
  ~notify_intake() override;

  // Hands on `replay` (journal records not yet durable when the daemon last stopped) first,
  // then starts the MQTT client.
  void start(std::vector<journal_record> replay, deliver_fn deliver, state_fn on_state);
  // Disconnects from the broker, which queues the session's notifies meanwhile; what was
  // handed on stays in flight and settles as usual. resume() connects again (same session).
  // From the thread that started it.
  void pause();
  void resume();
  void stop();

  std::uint64_t durable_mark() const override { return journal_->committed(); }
  void settle(std::size_t count, std::uint64_t mark) override {
    window_->release(count);
    journal_->commit(mark);
  }
  std::size_t in_flight() const override { return window_->in_use(); }

 private:
  std::shared_ptr<notify_journal> journal_;
  void start_client();

  std::shared_ptr<intake_window> window_;
  client_factory make_client_;
  std::unique_ptr<mqtt_client> client_;
  deliver_fn deliver_;
  state_fn on_state_;
};

}  // namespace iota::io
