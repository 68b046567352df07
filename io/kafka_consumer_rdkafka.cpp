// kafka_consumer / kafka_producer on librdkafka's C API (SPEC section 5).
#include "io/kafka_consumer.hpp"
#include "io/kafka_producer.hpp"

#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include <librdkafka/rdkafka.h>

#include "io/log.hpp"

namespace iota::io {

namespace {

// Short, so stop() is prompt: the poll thread checks its flag between polls.
constexpr int poll_timeout_ms = 100;
// Bounds the blocking offset queries made while handling an assignment.
constexpr int offset_query_timeout_ms = 5000;
// Bounds the graceful leave in stop(). librdkafka's own close (LeaveGroup, final offset
// commit) waits up to session.timeout.ms for a coordinator that may be gone, and
// rd_kafka_destroy() waits for a close in progress: so the session timeout is kept short too.
constexpr int close_timeout_ms = 5000;
constexpr const char* session_timeout_ms = "10000";

// librdkafka logs connects, rebalances, ... at info/debug; only warnings and errors (syslog
// levels <= 4) are worth a line in ours.
void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  if (level > 4)
    return;
  std::string text = std::string(rd_kafka_name(rk)) + " " + fac + ": " + buf;
  if (level <= 3)
    iota::log::error("kafka", text);
  else
    iota::log::warn("kafka", text);
}

void set(rd_kafka_conf_t* conf, const char* name, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name, value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("kafka: ") + name + "=" + value + ": " + errstr);
  }
}

rd_kafka_conf_t* base_conf(const std::string& brokers) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", brokers);
  set(conf, "log_level", "4");
  rd_kafka_conf_set_log_cb(conf, log_cb);
  return conf;
}

std::string partitions_text(const rd_kafka_topic_partition_list_t* parts) {
  std::string out;
  for (int i = 0; parts && i < parts->cnt; ++i) {
    if (!out.empty())
      out += ",";
    out += std::string(parts->elems[i].topic) + "[" + std::to_string(parts->elems[i].partition) +
           "]";
  }
  return out;
}

class rdkafka_consumer final : public kafka_consumer {
 public:
  explicit rdkafka_consumer(kafka_consumer_settings settings) : settings_(std::move(settings)) {
    if (settings_.group_id.empty())
      throw std::invalid_argument("kafka consumer: empty group id");
    rd_kafka_conf_t* conf = base_conf(settings_.brokers);
    set(conf, "group.id", settings_.group_id);
    set(conf, "auto.offset.reset", "latest");
    set(conf, "enable.auto.commit", "true");
    set(conf, "enable.partition.eof", "false");
    set(conf, "session.timeout.ms", session_timeout_ms);
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_rebalance_cb(conf, &rdkafka_consumer::rebalance_cb);
    // Client-wide errors (transport, all brokers down, ...) reach only this callback; it is
    // served by rd_kafka_consumer_poll() on the poll thread.
    rd_kafka_conf_set_error_cb(conf, &rdkafka_consumer::error_cb);
    char errstr[512];
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk_) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(std::string("kafka consumer: ") + errstr);
    }
    // Errors, logs-as-events and rebalances all come out of rd_kafka_consumer_poll().
    rd_kafka_poll_set_consumer(rk_);
  }

  ~rdkafka_consumer() override {
    stop();
    if (rk_)  // never started: nothing to leave
      rd_kafka_destroy_flags(rk_, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }

  void start(message_handler on_message, state_handler on_state) override {
    if (started_)
      throw std::logic_error("kafka consumer: start() called twice");
    started_ = true;
    on_message_ = std::move(on_message);
    on_state_ = std::move(on_state);
    rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, settings_.topic.c_str(), RD_KAFKA_PARTITION_UA);
    auto err = rd_kafka_subscribe(rk_, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      throw std::runtime_error(std::string("kafka consumer: subscribe to ") + settings_.topic +
                               ": " + rd_kafka_err2str(err));
    running_ = true;
    thread_ = std::thread([this] { run(); });
  }

  void stop() override {
    running_ = false;
    if (thread_.joinable())
      thread_.join();
  }

  bool assigned() const override { return assigned_.load(); }

 private:
  void run() {
    while (running_.load(std::memory_order_relaxed)) {
      rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk_, poll_timeout_ms);
      if (!msg)
        continue;
      if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (healthy_ != 1)
          report(true, "receiving messages");
        if (on_message_)
          on_message_(msg->payload
                        ? std::string(static_cast<const char*>(msg->payload), msg->len)
                        : std::string());
      } else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        std::string detail = std::string(rd_kafka_err2name(msg->err)) + ": " +
                             rd_kafka_message_errstr(msg);
        if (healthy_ != 0)
          report(false, detail);
        else
          iota::log::debug("kafka", "consumer " + settings_.group_id + ": " + detail);
      }
      rd_kafka_message_destroy(msg);
    }
    close();
    // The handle goes on this thread too, so that stop() covers all of the shutdown.
    rd_kafka_destroy_flags(rk_, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    rk_ = nullptr;
  }

  // Leaves the group (revoking the assignment through rebalance_cb, on this thread) with a
  // deadline. While the cluster is unreachable there is nobody to leave or commit to, and
  // trying would only wait out the session timeout: skip it (offsets are not worth keeping,
  // heartbeats start at the latest offset anyway).
  void close() {
    stopping_ = true;
    assigned_ = false;
    if (healthy_ == 0)
      return;
    rd_kafka_queue_t* queue = rd_kafka_queue_new(rk_);
    rd_kafka_error_t* error = rd_kafka_consumer_close_queue(rk_, queue);
    if (error) {
      iota::log::warn("kafka", std::string("consumer close: ") + rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
    } else {
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{close_timeout_ms};
      while (!rd_kafka_consumer_closed(rk_) && std::chrono::steady_clock::now() < until) {
        // The event API hands rebalances over as events rather than calling rebalance_cb.
        if (rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, poll_timeout_ms)) {
          if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
            rebalance(rk_, rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev));
          rd_kafka_event_destroy(ev);
        }
      }
      if (!rd_kafka_consumer_closed(rk_))
        iota::log::warn("kafka", "consumer " + settings_.group_id +
                                   ": leaving the group timed out; closing anyway");
    }
    rd_kafka_queue_destroy(queue);
  }

  void report(bool healthy, const std::string& detail) {
    healthy_ = healthy ? 1 : 0;
    if (healthy)
      iota::log::info("kafka", "consumer " + settings_.group_id + ": " + detail);
    else
      iota::log::warn("kafka", "consumer " + settings_.group_id + ": " + detail);
    if (on_state_ && !stopping_)
      on_state_(healthy, detail);
  }

  static void error_cb(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* self = static_cast<rdkafka_consumer*>(opaque);
    std::string detail = std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))) +
                         ": " + reason;
    if (self->healthy_ != 0)
      self->report(false, detail);
    else
      iota::log::debug("kafka", "consumer " + self->settings_.group_id + ": " + detail);
  }

  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* parts, void* opaque) {
    static_cast<rdkafka_consumer*>(opaque)->rebalance(rk, err, parts);
  }

  void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                 rd_kafka_topic_partition_list_t* parts) {
    bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      if (!stopping_)
        position_at_latest(parts);
      apply(cooperative ? rd_kafka_incremental_assign(rk, parts)
                        : error_of(rd_kafka_assign(rk, parts)));
      if (parts->cnt > 0 && !stopping_) {
        assigned_ = true;
        report(true, "assigned " + partitions_text(parts));
      }
    } else {
      // Revoked (or lost): give the partitions up; a new assignment follows a rebalance.
      apply(cooperative ? rd_kafka_incremental_unassign(rk, parts)
                        : error_of(rd_kafka_assign(rk, nullptr)));
      if (!cooperative || rd_kafka_assignment_lost(rk))
        assigned_ = false;
      iota::log::debug("kafka", "consumer " + settings_.group_id + ": revoked " +
                                  partitions_text(parts) + " (" + rd_kafka_err2name(err) + ")");
    }
  }

  // `auto.offset.reset=latest` resolves the end offset only after the assignment, so a message
  // produced in between would be skipped. Resolving it here, before assigned() turns true,
  // makes "assigned" mean "everything produced from now on will arrive". Partitions with a
  // committed offset are left to resume from it.
  void position_at_latest(rd_kafka_topic_partition_list_t* parts) {
    rd_kafka_topic_partition_list_t* committed = rd_kafka_topic_partition_list_copy(parts);
    auto err = rd_kafka_committed(rk_, committed, offset_query_timeout_ms);
    for (int i = 0; i < parts->cnt; ++i) {
      auto& p = parts->elems[i];
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR && committed->elems[i].err == 0 &&
          committed->elems[i].offset >= 0)
        continue;  // resume from the committed offset
      int64_t low = 0, high = 0;
      if (rd_kafka_query_watermark_offsets(rk_, p.topic, p.partition, &low, &high,
                                           offset_query_timeout_ms) ==
          RD_KAFKA_RESP_ERR_NO_ERROR)
        p.offset = high;  // else: left to auto.offset.reset
    }
    rd_kafka_topic_partition_list_destroy(committed);
  }

  static rd_kafka_error_t* error_of(rd_kafka_resp_err_t err) {
    return err ? rd_kafka_error_new(err, "%s", rd_kafka_err2str(err)) : nullptr;
  }

  void apply(rd_kafka_error_t* error) {
    if (!error)
      return;
    iota::log::warn("kafka", "consumer " + settings_.group_id +
                               ": assign: " + rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  }

  kafka_consumer_settings settings_;
  rd_kafka_t* rk_ = nullptr;
  message_handler on_message_;
  state_handler on_state_;
  std::thread thread_;
  bool started_ = false;
  bool stopping_ = false;          // poll thread only
  int healthy_ = -1;               // poll thread only: -1 unknown, 0 down, 1 up
  std::atomic<bool> running_{false};
  std::atomic<bool> assigned_{false};
};

class rdkafka_producer final : public kafka_producer {
 public:
  explicit rdkafka_producer(const std::string& brokers) {
    rd_kafka_conf_t* conf = base_conf(brokers);
    rd_kafka_conf_set_dr_msg_cb(conf, &rdkafka_producer::delivery_cb);
    rd_kafka_conf_set_error_cb(conf, &rdkafka_producer::error_cb);
    char errstr[512];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk_) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(std::string("kafka producer: ") + errstr);
    }
    // Delivery reports and errors are served here, so produce() never has to poll.
    poller_ = std::thread([this] {
      while (running_.load(std::memory_order_relaxed))
        rd_kafka_poll(rk_, poll_timeout_ms);
    });
  }

  ~rdkafka_producer() override {
    running_ = false;
    poller_.join();
    rd_kafka_destroy(rk_);
  }

  bool produce(const std::string& topic, const std::string& value) override {
    auto err = rd_kafka_producev(
      rk_, RD_KAFKA_V_TOPIC(topic.c_str()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
      return true;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
      iota::log::warn("kafka", "produce to " + topic + ": " + rd_kafka_err2str(err));
    return false;
  }

  int flush(int timeout_ms) override {
    rd_kafka_flush(rk_, timeout_ms);
    return rd_kafka_outq_len(rk_);
  }

 private:
  static void delivery_cb(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
    if (msg->err)
      iota::log::warn("kafka", std::string("delivery to ") + rd_kafka_topic_name(msg->rkt) +
                                 " failed: " + rd_kafka_err2str(msg->err));
  }

  static void error_cb(rd_kafka_t*, int err, const char* reason, void*) {
    iota::log::warn("kafka", std::string("producer: ") +
                               rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)) + ": " +
                               reason);
  }

  rd_kafka_t* rk_ = nullptr;
  std::atomic<bool> running_{true};
  std::thread poller_;
};

}  // namespace

std::unique_ptr<kafka_consumer> make_kafka_consumer(kafka_consumer_settings settings) {
  return std::make_unique<rdkafka_consumer>(std::move(settings));
}

std::unique_ptr<kafka_producer> make_kafka_producer(const std::string& brokers) {
  return std::make_unique<rdkafka_producer>(brokers);
}

}  // namespace iota::io
