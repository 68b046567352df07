// mqtt_client over paho-mqtt-c's MQTTAsync API (libpaho-mqtt3a 1.3.12): MQTT 3.1.1, clean
// session off, a stable client id, a QoS 1 subscription renewed after every (re)connect, and
// our own reconnect timer. When paho sends the PUBACK (right after our message callback
// returns) and what this client does because of it (queue files, the unsubscribe "pump",
// stop order) is read from paho's source and written down in docs/mqtt-paho.md.
#include "io/mqtt_client.hpp"
#include "model/text.hpp"

#include <MQTTAsync.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "io/log.hpp"

namespace iota::io {

namespace {

using clock = std::chrono::steady_clock;

constexpr auto disconnect_deadline = std::chrono::seconds{5};
constexpr int connect_timeout_seconds = 10;
constexpr auto first_handler_retry = std::chrono::milliseconds{100};
// UNSUBSCRIBEd to make the broker answer while draining paho's queue; never subscribed.
constexpr const char* pump_topic = "iota-orchestrator/mqtt-client/drain";

std::string paho_error(int rc) {
  const char* text = MQTTAsync_strerror(rc);
  return std::to_string(rc) + (text ? std::string(" ") + text : std::string());
}


// One broker URL -> "tcp://host:port", or "" if malformed.
std::string normalize_url(const std::string& raw) {
  std::string url{model::trim(raw)};
  std::string rest;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    rest = url;
  } else {
    std::string scheme = url.substr(0, scheme_end);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (scheme != "mqtt" && scheme != "tcp")
      return {};
    rest = url.substr(scheme_end + 3);
  }
  if (!rest.empty() && rest.back() == '/')  // "mqtt://h:1883/" is common enough
    rest.pop_back();
  if (rest.empty() || rest.find_first_of("/@?# \t") != std::string::npos)
    return {};
  std::string host;
  std::string port;
  if (rest.front() == '[') {  // [v6]:port
    auto close = rest.find(']');
    if (close == std::string::npos || close == 1)
      return {};
    host = rest.substr(0, close + 1);
    std::string after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return {};
      port = after.substr(1);
      if (port.empty())
        return {};
    }
  } else {
    auto colon = rest.find(':');
    if (colon != std::string::npos && rest.find(':', colon + 1) != std::string::npos)
      return {};  // a bare IPv6 address needs brackets
    host = rest.substr(0, colon);
    if (colon != std::string::npos) {
      port = rest.substr(colon + 1);
      if (port.empty())
        return {};
    }
  }
  if (host.empty())
    return {};
  if (port.empty())
    port = "1883";
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(),
                                      [](unsigned char c) { return std::isdigit(c) != 0; }))
    return {};
  long n = std::strtol(port.c_str(), nullptr, 10);
  if (n < 1 || n > 65535)
    return {};
  return "tcp://" + host + ":" + std::to_string(n);
}

// paho's pstopen: <dir>/<client id>-<server URI without scheme, ':' -> '-'>
std::filesystem::path paho_client_dir(const std::string& dir, const std::string& client_id,
                                      const std::string& first_uri) {
  std::string server = first_uri.substr(first_uri.find("://") + 3);
  std::replace(server.begin(), server.end(), ':', '-');
  return std::filesystem::path(dir) / (client_id + "-" + server);
}

bool is_queue_file(const std::filesystem::path& p) {
  auto name = p.filename().string();
  return name.size() > 6 && name.compare(0, 2, "q-") == 0 &&
         name.compare(name.size() - 4, 4, ".msg") == 0;
}

// The MQTT 3.1.1 queue entry layout of MQTTPersistence_persistQueueEntry: int payloadlen,
// payload, int qos, int retained, int dup, int msgid, topic + NUL, int topicLen.
bool queue_file_parses(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in)
    return false;
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < sizeof(int))
    return false;
  int payload_len = 0;
  std::memcpy(&payload_len, data.data(), sizeof(int));
  if (payload_len < 0)
    return false;
  std::size_t topic_at = sizeof(int) + static_cast<std::size_t>(payload_len) + 4 * sizeof(int);
  if (topic_at >= data.size())
    return false;
  auto nul = data.find('\0', topic_at);
  return nul != std::string::npos && nul + 1 + sizeof(int) == data.size();
}

thread_local const void* t_handler_owner = nullptr;

class paho_mqtt_client final : public mqtt_client {
 public:
  paho_mqtt_client(mqtt_settings settings, std::vector<std::string> uris)
      : settings_(std::move(settings)), uris_(std::move(uris)) {
    for (auto& u : uris_)
      uri_ptrs_.push_back(const_cast<char*>(u.c_str()));
    brokers_text_ = uris_.front();
    for (std::size_t i = 1; i < uris_.size(); ++i)
      brokers_text_ += "," + uris_[i];
    period_ = std::max(settings_.reconnect_period, std::chrono::milliseconds{1});
  }

  ~paho_mqtt_client() override {
    if (t_handler_owner == this) {
      log::error("mqtt", "the mqtt client was destroyed from inside its own handler: aborting");
      std::abort();
    }
    stop();
  }

  void start(message_handler on_message, state_handler on_state) override {
    std::lock_guard<std::mutex> stop_lock(stop_mutex_);
    if (started_)
      throw std::logic_error("mqtt_client::start called twice");
    started_ = true;
    on_message_ = std::move(on_message);
    on_state_ = std::move(on_state);

    int persistence = MQTTCLIENT_PERSISTENCE_NONE;
    void* persistence_context = nullptr;
    if (settings_.persistence_dir.empty()) {
      log::warn("mqtt", "no persistence dir: a notify acknowledged during stop() can be lost");
    } else {
      persistence = MQTTCLIENT_PERSISTENCE_DEFAULT;
      persistence_context = const_cast<char*>(settings_.persistence_dir.c_str());
      prepare_persistence();
    }
    MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer;
    create.MQTTVersion = MQTTVERSION_3_1_1;
    int rc = MQTTAsync_createWithOptions(&handle_, uris_.front().c_str(),
                                         settings_.client_id.c_str(), persistence,
                                         persistence_context, &create);
    if (rc != MQTTASYNC_SUCCESS) {
      handle_ = nullptr;
      throw std::runtime_error("mqtt: cannot create the client (client id '" +
                               settings_.client_id + "', persistence dir '" +
                               settings_.persistence_dir + "'): " + paho_error(rc));
    }
    // Before connect: a message arriving without a callback would be queued and acked.
    rc = MQTTAsync_setCallbacks(handle_, this, &paho_mqtt_client::on_connection_lost,
                                &paho_mqtt_client::on_message_arrived, nullptr);
    // Called for every successful CONNACK, even one of a connect paho made by itself (see
    // connect_once), so the subscription is always renewed.
    if (rc == MQTTASYNC_SUCCESS)
      rc = MQTTAsync_setConnected(handle_, this, &paho_mqtt_client::on_connected);
    if (rc != MQTTASYNC_SUCCESS) {
      MQTTAsync_destroy(&handle_);
      handle_ = nullptr;
      throw std::runtime_error("mqtt: MQTTAsync_setCallbacks: " + paho_error(rc));
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      want_connect_ = true;
      next_connect_ = clock::now();
    }
    supervisor_ = std::thread([this] { supervise(); });
  }

  void stop() override {
    if (t_handler_owner == this) {
      // Inside our own handler, on paho's receive thread: we hold the gate and paho's mutex, so
      // we can neither wait nor destroy. Close the gate, ask for the disconnect, and leave the
      // rest to the next stop() or the destructor on another thread.
      {
        std::lock_guard<std::mutex> lk(mu_);
        stopping_ = true;
      }
      cv_.notify_all();
      closed_ = true;
      connected_ = false;
      if (handle_)
        MQTTAsync_disconnect(handle_, nullptr);
      return;
    }
    std::lock_guard<std::mutex> stop_lock(stop_mutex_);
    if (!handle_)
      return;
    {
      std::lock_guard<std::mutex> lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (supervisor_.joinable())
      supervisor_.join();

    if (MQTTAsync_isConnected(handle_)) {
      MQTTAsync_disconnectOptions opts = MQTTAsync_disconnectOptions_initializer;
      opts.timeout = 1000;
      opts.context = this;
      opts.onSuccess = [](void* ctx, MQTTAsync_successData*) {
        static_cast<paho_mqtt_client*>(ctx)->set_disconnected();
      };
      opts.onFailure = [](void* ctx, MQTTAsync_failureData*) {
        static_cast<paho_mqtt_client*>(ctx)->set_disconnected();
      };
      if (MQTTAsync_disconnect(handle_, &opts) == MQTTASYNC_SUCCESS) {
        std::unique_lock<std::mutex> lk(mu_);
        if (!cv_.wait_for(lk, disconnect_deadline, [this] { return disconnect_done_; }))
          log::warn("mqtt", "no DISCONNECT completion within 5 s; closing anyway");
      }
    }
    {
      std::lock_guard<std::mutex> gate(gate_);  // waits for a handler call in progress
      closed_ = true;
    }
    connected_ = false;
    MQTTAsync_destroy(&handle_);  // no paho callback after this
    handle_ = nullptr;
  }

  bool connected() const override { return connected_; }

 private:
  // ---- persistence -------------------------------------------------------------------------

  void prepare_persistence() {
    std::error_code ec;
    std::filesystem::create_directories(settings_.persistence_dir, ec);
    if (ec)
      throw std::runtime_error("mqtt: cannot create persistence dir '" +
                               settings_.persistence_dir + "': " + ec.message());
    client_dir_ = paho_client_dir(settings_.persistence_dir, settings_.client_id, uris_.front());
    std::size_t kept = 0;
    for (auto it = std::filesystem::directory_iterator(client_dir_, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      if (!is_queue_file(it->path()))
        continue;
      if (queue_file_parses(it->path())) {
        ++kept;
        continue;
      }
      log::warn("mqtt", "removing unreadable paho queue file " + it->path().string() +
                          " (cut short by a kill; the broker still has that message)");
      std::error_code rm;
      std::filesystem::remove(it->path(), rm);
    }
    if (kept > 0) {
      log::info("mqtt", std::to_string(kept) + " message(s) acknowledged but not handled by " +
                          "the previous run are in " + client_dir_.string() +
                          ": delivering them first");
      pumping_ = true;
    }
  }

  std::size_t queue_files() const {
    std::size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(client_dir_, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
      n += is_queue_file(it->path()) ? 1 : 0;
    return n;
  }

  // ---- the supervisor thread: connect, subscribe, pump -------------------------------------

  void supervise() {
    std::unique_lock<std::mutex> lk(mu_);
    while (!stopping_) {
      auto now = clock::now();
      if (want_connect_ && now >= next_connect_) {
        want_connect_ = false;
        const std::size_t index = uri_index_;
        lk.unlock();
        int rc = MQTTAsync_isConnected(handle_) ? MQTTASYNC_SUCCESS : connect_once(index);
        lk.lock();
        if (rc != MQTTASYNC_SUCCESS) {
          std::string state = connect_failed_locked("MQTTAsync_connect returned " + paho_error(rc));
          if (!state.empty()) {
            lk.unlock();
            post_state(false, state);
            lk.lock();
          }
        }
        continue;
      }
      if (want_subscribe_ && now >= next_subscribe_) {
        want_subscribe_ = false;
        lk.unlock();
        int rc = subscribe_once();
        lk.lock();
        if (rc != MQTTASYNC_SUCCESS && session_up_) {
          log::warn("mqtt", "subscribe to " + settings_.topic + " not sent: " + paho_error(rc));
          want_subscribe_ = true;
          next_subscribe_ = clock::now() + period_;
        }
        continue;
      }
      if (pumping_ && connected_ && !pump_in_flight_) {
        // Set before sending: the UNSUBACK (pump_done) may come before we relock.
        pump_in_flight_ = true;
        pump_sent_ = clock::now();
        lk.unlock();
        std::size_t left = queue_files();
        int rc = MQTTASYNC_SUCCESS;
        if (left > 0) {
          MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
          ro.context = this;
          ro.onSuccess = [](void* ctx, MQTTAsync_successData*) {
            static_cast<paho_mqtt_client*>(ctx)->pump_done();
          };
          ro.onFailure = [](void* ctx, MQTTAsync_failureData*) {
            static_cast<paho_mqtt_client*>(ctx)->pump_done();
          };
          rc = MQTTAsync_unsubscribe(handle_, pump_topic, &ro);
        }
        lk.lock();
        // Each round delivers one queued message; files that never go away (paho did not load
        // them) must not keep us sending UNSUBSCRIBEs forever.
        pump_stalled_rounds_ = left < pump_last_left_ ? 0 : pump_stalled_rounds_ + 1;
        pump_last_left_ = left;
        if (left == 0) {
          pumping_ = false;
          pump_in_flight_ = false;
          log::info("mqtt", "messages kept from the previous run delivered");
        } else if (pump_stalled_rounds_ >= 200) {
          pumping_ = false;
          pump_in_flight_ = false;
          log::warn("mqtt", std::to_string(left) + " paho queue file(s) in " +
                              client_dir_.string() + " are not being delivered; stopped pumping");
        } else if (rc != MQTTASYNC_SUCCESS) {
          pump_in_flight_ = false;
          cv_.wait_for(lk, std::chrono::milliseconds{100});
        }
        continue;
      }
      // Sleep until the next due action or a notification.
      auto wake = clock::time_point::max();
      if (want_connect_)
        wake = std::min(wake, next_connect_);
      if (want_subscribe_)
        wake = std::min(wake, next_subscribe_);
      if (pumping_ && pump_in_flight_)  // an UNSUBACK lost with the connection
        wake = std::min(wake, pump_sent_ + std::chrono::seconds{5});
      if (wake == clock::time_point::max())
        cv_.wait(lk);
      else
        cv_.wait_until(lk, wake);
      if (pump_in_flight_ && clock::now() >= pump_sent_ + std::chrono::seconds{5})
        pump_in_flight_ = false;
    }
  }

  // One URL per MQTTAsync_connect (a one-element serverURIs): with a longer list paho fails over
  // by itself after a connection loss (nextOrClose, MQTTAsyncUtils.c) with the callbacks of the
  // first connect cleared, and a connect of ours meeting it in progress takes over its outcome.
  int connect_once(std::size_t index) {
    MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
    o.keepAliveInterval = static_cast<int>(settings_.keep_alive.count());
    o.cleansession = 0;
    o.MQTTVersion = MQTTVERSION_3_1_1;  // with the default, paho would fall back to 3.1
    o.connectTimeout = connect_timeout_seconds;
    o.automaticReconnect = 0;           // our own timer: ms period, one line per loss
    o.serverURIs = &uri_ptrs_[index];
    o.serverURIcount = 1;
    o.context = this;
    o.onSuccess = &paho_mqtt_client::on_connect_success;
    o.onFailure = &paho_mqtt_client::on_connect_failure;
    return MQTTAsync_connect(handle_, &o);
  }

  int subscribe_once() {
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.context = this;
    ro.onSuccess = &paho_mqtt_client::on_subscribe_success;
    ro.onFailure = &paho_mqtt_client::on_subscribe_failure;
    return MQTTAsync_subscribe(handle_, settings_.topic.c_str(), 1, &ro);
  }

  // mu_ held. Returns the detail to pass to the state handler (after unlocking mu_: handlers
  // never run under mu_, which a handler's stop() takes), or "".
  std::string connect_failed_locked(const std::string& why) {
    auto now = clock::now();
    round_errors_ += (round_errors_.empty() ? "" : "; ") + uris_[uri_index_] + ": " + why;
    if (uri_index_ + 1 < uris_.size()) {  // the next URL at once
      ++uri_index_;
      if (!stopping_) {
        want_connect_ = true;
        next_connect_ = now;
      }
      cv_.notify_all();
      return {};
    }
    uri_index_ = 0;  // every URL failed: wait a period, then from the first again
    std::string errors = std::move(round_errors_);
    round_errors_.clear();
    ++failed_attempts_;
    bool report = failed_attempts_ == 1 || now - last_failure_log_ >= std::chrono::seconds{60};
    if (!stopping_) {
      want_connect_ = true;
      next_connect_ = now + period_;
    }
    cv_.notify_all();
    if (report) {
      last_failure_log_ = now;
      std::string text = "cannot connect: " + errors + " (attempt " +
                         std::to_string(failed_attempts_) + "; retrying every " +
                         std::to_string(period_.count()) + " ms)";
      log::warn("mqtt", text);
      if (failed_attempts_ == 1)
        return text;
    }
    return {};
  }

  void set_disconnected() {
    std::lock_guard<std::mutex> lk(mu_);
    disconnect_done_ = true;
    cv_.notify_all();
  }

  void pump_done() {
    std::lock_guard<std::mutex> lk(mu_);
    pump_in_flight_ = false;
    cv_.notify_all();
  }

  // ---- handlers, behind the gate -----------------------------------------------------------

  void post_state(bool up, const std::string& detail) {
    std::lock_guard<std::mutex> gate(gate_);
    if (closed_ || !on_state_)
      return;
    t_handler_owner = this;
    try {
      on_state_(up, detail);
    } catch (const std::exception& e) {
      log::error("mqtt", std::string("state handler threw: ") + e.what());
    } catch (...) {
      log::error("mqtt", "state handler threw");
    }
    t_handler_owner = nullptr;
  }

  // True once the handler returned normally; false if it may no longer be called.
  bool deliver(const mqtt_message& msg) {
    auto backoff = first_handler_retry;
    for (unsigned attempt = 1;; ++attempt) {
      {
        std::lock_guard<std::mutex> gate(gate_);
        if (closed_)
          return false;
        t_handler_owner = this;
        std::string failure;
        try {
          on_message_(msg);
          t_handler_owner = nullptr;
          return true;
        } catch (const std::exception& e) {
          failure = e.what();
        } catch (...) {
          failure = "unknown exception";
        }
        t_handler_owner = nullptr;
        if (attempt == 1 || attempt % 10 == 0)
          log::error("mqtt", "handler failed on message #" + std::to_string(msg.sequence) +
                               " (attempt " + std::to_string(attempt) + "): " + failure +
                               "; not acknowledged, retrying");
      }
      std::unique_lock<std::mutex> lk(mu_);
      if (cv_.wait_for(lk, backoff, [this] { return stopping_; }))
        return false;
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::max(period_, backoff));
    }
  }

  // ---- paho callbacks (paho's threads, mqttasync_mutex held) -------------------------------

  static int on_message_arrived(void* ctx, char* topic, int topic_len, MQTTAsync_message* m) {
    auto* self = static_cast<paho_mqtt_client*>(ctx);
    mqtt_message msg;
    msg.topic = topic_len > 0 ? std::string(topic, static_cast<std::size_t>(topic_len))
                              : std::string(topic);
    msg.payload.assign(static_cast<const char*>(m->payload),
                       static_cast<std::size_t>(m->payloadlen));
    msg.sequence = ++self->sequence_;
    if (!self->deliver(msg)) {
      --self->sequence_;
      return 0;  // paho keeps it (in its queue file with persistence) and still PUBACKs it
    }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
  }

  // Called just before on_connected for a CONNACK to our own MQTTAsync_connect.
  static void on_connect_success(void* ctx, MQTTAsync_successData* data) {
    auto* self = static_cast<paho_mqtt_client*>(ctx);
    std::lock_guard<std::mutex> lk(self->mu_);
    self->connect_info_ = true;
    self->server_ = data && data->alt.connect.serverURI ? data->alt.connect.serverURI : "?";
    self->session_present_ = data && data->alt.connect.sessionPresent;
  }

  static void on_connected(void* ctx, char* /*cause*/) {
    auto* self = static_cast<paho_mqtt_client*>(ctx);
    std::string text;
    bool reconnect = false;
    {
      std::lock_guard<std::mutex> lk(self->mu_);
      std::string session = self->session_present_ ? "resumed" : "new";
      if (!self->connect_info_) {  // not a connect of ours: not expected, see connect_once
        self->server_ = "one of " + self->brokers_text_;
        session = "unknown";
      }
      self->connect_info_ = false;
      reconnect = self->ever_connected_;
      self->ever_connected_ = true;
      self->failed_attempts_ = 0;
      self->round_errors_.clear();
      self->session_up_ = true;
      self->pump_in_flight_ = false;
      self->want_connect_ = false;
      self->want_subscribe_ = true;
      self->next_subscribe_ = clock::now();
      self->cv_.notify_all();
      // Logged at CONNACK: with a resumed session the broker sends the backlog before our SUBACK.
      text = std::string(reconnect ? "reconnected" : "connected") + " to " + self->server_ +
             " as " + self->settings_.client_id + " (session " + session + ")";
    }
    if (reconnect)
      log::warn("mqtt", text);
    else
      log::info("mqtt", text);
  }

  static void on_connect_failure(void* ctx, MQTTAsync_failureData* data) {
    auto* self = static_cast<paho_mqtt_client*>(ctx);
    std::string why = data ? paho_error(data->code) : std::string("unknown error");
    if (data && data->message)
      why += std::string(": ") + data->message;
    std::string state;
    {
      std::lock_guard<std::mutex> lk(self->mu_);
      state = self->connect_failed_locked(why);
    }
    if (!state.empty())
      self->post_state(false, state);
  }

  static void on_subscribe_success(void* ctx, MQTTAsync_successData* data) {
    auto* self = static_cast<paho_mqtt_client*>(ctx);
    std::string detail;
    {
      std::lock_guard<std::mutex> lk(self->mu_);
      if (!self->session_up_)
        return;
      detail = "connected to " + self->server_ + ", subscribed to " + self->settings_.topic +
               " at QoS " + std::to_string(data ? data->alt.qos : 1);
      self->connected_ = true;
      self->cv_.notify_all();
    }
    log::debug("mqtt", detail);
    self->post_state(true, detail);
  }

  static void on_subscribe_failure(void* ctx, MQTTAsync_failureData* data) {
    auto* self = static_cast<paho_mqtt_client*>(ctx);
    int code = data ? data->code : MQTTASYNC_FAILURE;
    std::string why = paho_error(code);
    // -11 (MQTTASYNC_OPERATION_INCOMPLETE): discarded with the connection or by stop(); the
    // connection loss is reported on its own and the next connect subscribes again.
    if (code == MQTTASYNC_OPERATION_INCOMPLETE) {
      log::debug("mqtt", "subscribe to " + self->settings_.topic + " discarded: " + why);
      return;
    }
    log::error("mqtt", "subscribe to " + self->settings_.topic + " refused: " + why);
    std::lock_guard<std::mutex> lk(self->mu_);
    if (self->session_up_ && !self->stopping_) {
      self->want_subscribe_ = true;
      self->next_subscribe_ = clock::now() + self->period_;
      self->cv_.notify_all();
    }
  }

  static void on_connection_lost(void* ctx, char* cause) {
    auto* self = static_cast<paho_mqtt_client*>(ctx);
    std::string detail;
    bool stopping = false;
    {
      std::lock_guard<std::mutex> lk(self->mu_);
      detail = "connection to " + self->server_ + " lost" +
               (cause ? std::string(": ") + cause : std::string());
      self->connected_ = false;
      self->session_up_ = false;
      self->want_subscribe_ = false;
      self->pump_in_flight_ = false;
      stopping = self->stopping_;
      if (!stopping) {
        self->want_connect_ = true;
        self->next_connect_ = clock::now() + self->period_;
        self->uri_index_ = 0;
        self->round_errors_.clear();
      }
      self->cv_.notify_all();
    }
    if (!stopping)
      log::warn("mqtt", detail + "; reconnecting in " + std::to_string(self->period_.count()) +
                          " ms");
    self->post_state(false, detail);
  }

  mqtt_settings settings_;
  std::vector<std::string> uris_;
  std::vector<char*> uri_ptrs_;
  std::string brokers_text_;
  std::chrono::milliseconds period_;
  std::filesystem::path client_dir_;

  MQTTAsync handle_ = nullptr;
  message_handler on_message_;
  state_handler on_state_;
  std::thread supervisor_;
  std::mutex stop_mutex_;  // serializes start() and stop()
  bool started_ = false;

  std::mutex gate_;        // held while a handler runs
  bool closed_ = false;    // under gate_ (or by the handler thread itself): no more handler calls
  std::uint64_t sequence_ = 0;  // receive thread only
  std::atomic<bool> connected_{false};

  std::mutex mu_;          // everything below
  std::condition_variable cv_;
  bool stopping_ = false;
  bool want_connect_ = false;
  clock::time_point next_connect_{};
  bool want_subscribe_ = false;
  clock::time_point next_subscribe_{};
  bool session_up_ = false;
  bool session_present_ = false;
  bool connect_info_ = false;
  bool ever_connected_ = false;
  std::string server_ = "broker";
  unsigned failed_attempts_ = 0;  // rounds over every URL since the last connect
  std::size_t uri_index_ = 0;     // the URL of the current or next connect attempt
  std::string round_errors_;
  clock::time_point last_failure_log_{};
  bool disconnect_done_ = false;
  bool pumping_ = false;
  bool pump_in_flight_ = false;
  clock::time_point pump_sent_{};
  std::size_t pump_last_left_ = static_cast<std::size_t>(-1);
  unsigned pump_stalled_rounds_ = 0;
};

}  // namespace

std::vector<std::string> parse_broker_urls(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? std::string::npos
                                                                     : comma - start);
    std::string url = normalize_url(item);
    if (url.empty())
      return {};
    out.push_back(std::move(url));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return out;
}

std::unique_ptr<mqtt_client> make_mqtt_client(mqtt_settings settings) {
  if (settings.brokers.empty())
    throw std::invalid_argument("mqtt: no broker URL");
  std::vector<std::string> uris;
  for (auto& b : settings.brokers) {
    std::string url = normalize_url(b);
    if (url.empty())
      throw std::invalid_argument("mqtt: malformed broker URL '" + b + "'");
    uris.push_back(std::move(url));
  }
  if (settings.client_id.empty())
    throw std::invalid_argument("mqtt: empty client id (a persistent session needs one)");
  if (settings.topic.empty())
    throw std::invalid_argument("mqtt: empty topic");
  return std::make_unique<paho_mqtt_client>(std::move(settings), std::move(uris));
}

}  // namespace iota::io
