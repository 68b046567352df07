#include "io/notify_intake.hpp"

#include <chrono>
#include <thread>

#include "io/log.hpp"

namespace iota::io {

bool intake_window::acquire() {
  std::unique_lock<std::mutex> lk{m_};
  cv_.wait(lk, [this] { return closed_ || used_ < size_; });
  if (closed_)
    return false;
  ++used_;
  return true;
}

void intake_window::release(std::size_t n) {
  {
    std::lock_guard<std::mutex> g{m_};
    used_ = n > used_ ? 0 : used_ - n;
  }
  cv_.notify_all();
}

void intake_window::close() {
  {
    std::lock_guard<std::mutex> g{m_};
    closed_ = true;
  }
  cv_.notify_all();
}

std::size_t intake_window::in_use() const {
  std::lock_guard<std::mutex> g{m_};
  return used_;
}

notify_intake::notify_intake(std::shared_ptr<notify_journal> journal,
                             std::shared_ptr<intake_window> window, client_factory make_client)
    : journal_(std::move(journal)), window_(std::move(window)), make_client_(std::move(make_client)) {}

notify_intake::~notify_intake() { stop(); }

void notify_intake::start(std::vector<journal_record> replay, deliver_fn deliver, state_fn on_state) {
  if (!replay.empty())
    log::info("mqtt", "replaying " + std::to_string(replay.size()) +
                        " notifies from the journal that were not yet durable");
  for (auto& r : replay) {
    window_->acquire();
    deliver(r.seq, std::move(r.payload));
  }
  deliver_ = std::move(deliver);
  on_state_ = std::move(on_state);
  start_client();
}

void notify_intake::start_client() {
  auto journal = journal_;
  auto window = window_;
  auto deliver = deliver_;
  client_ = make_client_();
  client_->start(
    [journal, window, deliver](mqtt_message m) {
      // Journal first: once this returns, the broker may forget the message.
      std::uint64_t seq = 0;
      for (int attempt = 0;; ++attempt) {
        try {
          seq = journal->append(m.payload);
          break;
        } catch (const std::exception& e) {
          // Cannot keep it yet (disk full?): hold this message, unacknowledged, and retry,
          // rather than acknowledge one we might lose. The intake stalls meanwhile.
          if (attempt % 60 == 0)
            log::error("mqtt", std::string{"journal append failed, holding the message: "} + e.what());
          std::this_thread::sleep_for(std::chrono::seconds{1});
        }
      }
      if (!window->acquire())
        return;
      deliver(seq, std::move(m.payload));
    },
    on_state_);
}

void notify_intake::pause() {
  if (!client_)
    return;
  client_->stop();
  client_.reset();
  if (on_state_)
    on_state_(false, "paused");
}

void notify_intake::resume() {
  if (client_ || !deliver_)
    return;
  start_client();
}

void notify_intake::stop() {
  window_->close();
  if (client_)
    client_->stop();
}

}  // namespace iota::io
