// The Kubernetes instance driver of io/kubernetes_driver.hpp on Boost.Beast + Asio + OpenSSL.
// The pods API's pure parts (URLs, pod status, errors) are io/kubernetes_pods_api; the
// in-cluster configuration is io/kubernetes_in_cluster.cpp.
//
// Threads: one io thread runs one io_context; every piece of mutable state below the
// "io thread only" line is touched on it alone, so there are no strands and no locks beyond
// the template map (written by add_template on the caller's thread).
//
// Requests: each call is one connection (resolve, connect, TLS handshake, one request with
// `Connection: close`, the response), bounded as a whole by request_timeout. At most
// max_concurrent run at once; the rest wait in `queued_`, so that recreating a hundred pods
// does not open a hundred TLS connections at the same moment.
//
// Watch (the reflector pattern of client-go): LIST, report every pod, WATCH from the list's
// resourceVersion; on a drop resume from the last resourceVersion seen (events or
// BOOKMARKs) after retry_delay; on 410 Gone LIST again. `watch_gen_` identifies the current
// list/watch attempt: completions of an older one are ignored. The server ends a watch
// after timeoutSeconds; an idle limit just above it catches a connection that died silently.
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cctype>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "io/beast_net.hpp"
#include "io/kubernetes_driver.hpp"
#include "io/files.hpp"
#include "io/kubernetes_pods_api.hpp"
#include "io/log.hpp"
#include "model/pod_template.hpp"
#include "model/text.hpp"

namespace iota::io {

namespace {

using namespace beast_net;  // asio, beast, http, ssl, tcp, error_code
using json = nlohmann::json;
using namespace kube;  // the pods API helpers
using clock_type = std::chrono::steady_clock;

constexpr std::string_view component = "kubernetes";
constexpr std::size_t max_concurrent = 32;
constexpr std::uint64_t max_response_body = 64u << 20;  // a LIST of many pods
constexpr std::size_t max_event_line = 16u << 20;
constexpr int watch_timeout_seconds = 300;  // the server ends the watch; we resume
constexpr auto watch_idle_slack = std::chrono::seconds(60);
constexpr auto token_reread_period = std::chrono::seconds(60);
constexpr auto stop_grace = std::chrono::seconds(5);

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

struct http_reply {
  int status = 0;     // 0 when the request failed before a response
  std::string body;
  std::string error;  // transport failure, e.g. "connect: Connection refused"
};
using reply_fn = std::function<void(http_reply)>;

struct pending_call {
  http::verb method = http::verb::get;
  std::string target;
  std::string body;
  reply_fn done;
};

class driver;

// One connection to the API server: resolve, connect, TLS handshake.
class connection : public std::enable_shared_from_this<connection> {
 public:
  explicit connection(driver& d);
  virtual ~connection() = default;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  // Closes without reporting anything (stop, superseded watch).
  virtual void abort() = 0;

 protected:
  using step = std::function<void(const char* stage, const error_code&)>;
  void open(step next);
  template <class F>
  void with_stream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }
  beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }
  // After this, no step of open() starts anything new (a completion already queued when the
  // socket was closed would otherwise reopen it).
  void close_socket() {
    closed_ = true;
    resolver_.cancel();
    shutdown_and_close(lowest().socket());
  }

  driver& d_;
  tcp::resolver resolver_;
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  bool closed_ = false;
};

// One request and its whole response, bounded by request_timeout.
class request_op final : public connection {
 public:
  request_op(driver& d, http::request<http::string_body> request, reply_fn done);
  void start();
  void abort() override;

 private:
  void finish(http_reply reply);
  void fail(const char* stage, const error_code& ec);

  http::request<http::string_body> request_;
  http::response_parser<http::string_body> parser_;
  reply_fn done_;
  asio::steady_timer timer_;
  bool finished_ = false;
};

// One watch stream: JSON lines, one event each, handed to the driver as they arrive.
class watch_op final : public connection {
 public:
  watch_op(driver& d, http::request<http::string_body> request, std::uint64_t gen);
  void start();
  void abort() override;

 private:
  void read_header();
  void read_body();
  bool take_lines();  // false: the driver wants this stream closed
  void arm_timer(std::chrono::milliseconds d);
  void end(bool clean, int status, std::string why);

  http::request<http::string_body> request_;
  http::response_parser<http::buffer_body> parser_;
  std::uint64_t gen_;
  asio::steady_timer timer_;
  std::uint64_t timer_gen_ = 0;
  char chunk_[16384];
  std::string pending_;  // bytes of an unfinished line
  bool finished_ = false;
};

struct template_entry {
  std::string resource;
  std::string instance_name;
  std::optional<model::pod_template> pod;
  std::string error;  // why the template is unusable
};

class driver final : public instance_driver {
 public:
  explicit driver(kubernetes_settings settings)
      : settings_(std::move(settings)),
        ssl_ctx_(ssl::context::tls_client),
        retry_timer_(ioc_) {
    if (auto url = parse_url(settings_.url, config_error_)) url_ = *url;
    if (settings_.request_timeout.count() <= 0) settings_.request_timeout = std::chrono::seconds(10);
    if (settings_.retry_delay.count() < 0) settings_.retry_delay = std::chrono::milliseconds(0);
    pods_path_ = url_.base_path + "/api/v1/namespaces/" + url_encode(settings_.namespace_name) +
                 "/pods";
    events_path_ = url_.base_path + "/api/v1/namespaces/" + url_encode(settings_.namespace_name) + "/events";
    if (config_error_.empty() && url_.tls) setup_tls();
    if (!config_error_.empty()) log::error(component, config_error_);
    token_ = settings_.token;
    if (!settings_.token_file.empty()) reread_token();
    work_.emplace(ioc_.get_executor());
    io_thread_ = std::thread([this] {
      ioc_.run();
      std::lock_guard<std::mutex> lock(run_mutex_);
      ran_out_ = true;
      run_cv_.notify_all();
    });
  }

  ~driver() override {
    stop();
    if (io_thread_.joinable() && std::this_thread::get_id() != io_thread_.get_id()) {
      io_thread_.join();
    }
  }

  void add_template(const std::string& resource, const std::string& instance_name,
                    const std::string& template_yaml) override {
    template_entry entry{resource, instance_name, std::nullopt, {}};
    auto parsed = model::pod_template::parse(template_yaml, instance_name + "/pod-template.yml");
    if (auto* pod = std::get_if<model::pod_template>(&parsed)) {
      entry.pod = std::move(*pod);
    } else {
      entry.error = std::get<std::string>(parsed);
      log::error(component, entry.error);
    }
    {
      std::lock_guard<std::mutex> lock(templates_mutex_);
      templates_[instance_name] = std::move(entry);
    }
    post([this] {
      if (on_change_) start_sync();  // report the pods of the new template too
    });
  }

  void create(const instance_ref& instance, result_fn done) override {
    post([this, instance, done = std::move(done)]() mutable {
      std::string body;
      std::string problem;
      {
        std::lock_guard<std::mutex> lock(templates_mutex_);
        auto it = templates_.find(instance.instance_name);
        if (it == templates_.end()) {
          problem = "no pod template for " + instance.instance_name;
        } else if (!it->second.pod) {
          problem = it->second.error;
        } else {
          try {
            body = it->second.pod->render_json(instance.instance_name, instance.id);
          } catch (const std::exception& e) {
            problem = std::string("cannot render the pod template: ") + e.what();
          }
        }
      }
      if (!problem.empty()) {
        deliver(done, driver_result{driver_result::code::error, problem});
        return;
      }
      auto name = instance.pod_name();
      send(http::verb::post, pods_path_, std::move(body),
           [this, name, done = std::move(done)](http_reply r) {
             driver_result result;
             if (!r.error.empty()) {
               result = {driver_result::code::error, r.error};
             } else if (r.status >= 200 && r.status < 300) {
               result = {driver_result::code::ok, {}};
             } else if (r.status == 409) {
               result = {driver_result::code::conflict, http_detail(r.status, r.body)};
             } else {
               result = {driver_result::code::error, http_detail(r.status, r.body)};
             }
             if (!result.ok()) log::warn(component, "create pod " + name + ": " + result.detail);
             deliver(done, std::move(result));
           });
    });
  }

  void record_event(const instance_ref& instance, const std::string& reason, const std::string& message) override {
    post([this, pod = instance.pod_name(), reason, message] {
      auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
      send(http::verb::post, events_path_, render_pod_event(settings_.namespace_name, pod, reason, message, now),
           [pod](http_reply r) {
             if (!r.error.empty() || r.status < 200 || r.status >= 300)
               log::warn(component, "posting an Event on pod " + pod + " failed: " +
                                      (r.error.empty() ? http_detail(r.status, r.body) : r.error));
           });
    });
  }

  void remove(const instance_ref& instance, result_fn done) override {
    post([this, name = instance.pod_name(), done = std::move(done)]() mutable {
      // Both forms: the query parameter for servers that ignore DELETE bodies.
      std::string body = R"({"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0})";
      send(http::verb::delete_, pods_path_ + "/" + url_encode(name) + "?gracePeriodSeconds=0",
           std::move(body), [this, name, done = std::move(done)](http_reply r) {
             driver_result result;
             if (!r.error.empty()) {
               result = {driver_result::code::error, r.error};
             } else if (r.status >= 200 && r.status < 300) {
               result = {driver_result::code::ok, {}};
             } else if (is_not_found(r.status, r.body)) {
               result = {driver_result::code::not_found, http_detail(r.status, r.body)};
             } else if (r.status == 409) {
               result = {driver_result::code::conflict, http_detail(r.status, r.body)};
             } else {
               result = {driver_result::code::error, http_detail(r.status, r.body)};
             }
             if (result.status == driver_result::code::error) {
               log::warn(component, "delete pod " + name + ": " + result.detail);
             }
             deliver(done, std::move(result));
           });
    });
  }

  void get(const instance_ref& instance, status_fn done) override {
    post([this, instance, done = std::move(done)]() mutable {
      send(http::verb::get, pods_path_ + "/" + url_encode(instance.pod_name()), {},
           [this, instance, done = std::move(done)](http_reply r) {
             pod_status status{instance, pod_phase::unknown, {}};
             if (!r.error.empty()) {
               status.detail = "error: " + r.error;
             } else if (is_not_found(r.status, r.body)) {
               status.phase = pod_phase::missing;
             } else if (r.status == 200) {
               auto pod = json::parse(r.body, nullptr, false);
               if (pod.is_object()) {
                 status.phase = phase_of(string_at(pod, {"status", "phase"}));
                 status.detail = detail_of(pod);
               } else {
                 status.detail = "error: the pod is not valid JSON";
               }
             } else {
               status.detail = "error: " + http_detail(r.status, r.body);
             }
             deliver(done, std::move(status));
           });
    });
  }

  void watch(status_fn on_change) override {
    post([this, on_change = std::move(on_change)]() mutable {
      on_change_ = std::move(on_change);
      if (on_change_) start_sync();
    });
  }

  void stop() override {
    if (stopped_.exchange(true)) return;
    if (std::this_thread::get_id() == io_thread_.get_id()) {
      // Cannot join ourselves: close everything and let the thread run out.
      log::error(component, "stop() called on the driver's own thread; not joining");
      shutdown();
      work_.reset();
      return;
    }
    asio::post(ioc_, [this] { shutdown(); });
    work_.reset();
    {
      std::unique_lock<std::mutex> lock(run_mutex_);
      if (!run_cv_.wait_for(lock, stop_grace, [this] { return ran_out_; })) {
        log::warn(component, "connections did not close in time; stopping the io thread");
        ioc_.stop();
      }
    }
    if (io_thread_.joinable()) io_thread_.join();
  }

  // ---- used by the connections (io thread) ----
  asio::io_context& ioc() { return ioc_; }
  ssl::context& ssl_ctx() { return ssl_ctx_; }
  const parsed_url& url() const { return url_; }
  const kubernetes_settings& settings() const { return settings_; }

  void request_done(const std::shared_ptr<connection>& op, http_reply reply, reply_fn done) {
    live_.erase(op);
    --active_;
    if (!stopping_) {
      if (reply.status == 401 && !settings_.token_file.empty()) token_read_.reset();
      try {
        done(std::move(reply));
      } catch (const std::exception& e) {
        log::error(component, std::string("callback threw: ") + e.what());
      }
    }
    pump();
  }

  // A watch event; false ends the stream (410 Gone, or an error event).
  bool watch_event(std::uint64_t gen, const std::string& line) {
    if (gen != watch_gen_ || stopping_) return false;
    auto event = json::parse(line, nullptr, false);
    if (!event.is_object()) {
      log::warn(component, "watch: an event that is not JSON: " + line.substr(0, 200));
      return true;
    }
    std::string type = string_at(event, {"type"});
    const json empty = json::object();
    auto it = event.find("object");
    const json& object = it != event.end() && it->is_object() ? *it : empty;
    if (type == "ERROR") {
      auto code = object.value("code", 0);
      if (code == 410) {
        gone_ = true;
      } else {
        log::warn(component, "watch: error event: " + http_detail(code, object.dump()));
      }
      return false;
    }
    ++events_;
    std::string rv = string_at(object, {"metadata", "resourceVersion"});
    if (!rv.empty()) resource_version_ = rv;
    if (type == "ADDED" || type == "MODIFIED") {
      report(object, false);
    } else if (type == "DELETED") {
      report(object, true);
    }  // BOOKMARK: only its resourceVersion matters
    return true;
  }

  void watch_ended(std::uint64_t gen, bool clean, int status, const std::string& why) {
    if (gen != watch_gen_ || stopping_) return;
    watch_.reset();
    bool quick = clock_type::now() - watch_started_ < settings_.retry_delay && events_ == 0;
    if (status == 410 || gone_) {
      log::info(component, "watch: resourceVersion " + resource_version_ +
                               " is gone (410); listing again");
      resource_version_.clear();
      if (quick) {
        schedule([this] { start_sync(); });
      } else {
        start_sync();
      }
      return;
    }
    if (clean && status == 200 && !quick) {
      start_watch();  // the server ended it after timeoutSeconds
      return;
    }
    log::warn(component, "watch dropped (" + why + "); resuming from resourceVersion " +
                             (resource_version_.empty() ? "(none)" : resource_version_) +
                             " in " + std::to_string(settings_.retry_delay.count()) + "ms");
    schedule([this] { start_watch(); });
  }

  std::string token() {
    if (!settings_.token_file.empty() &&
        (!token_read_ || clock_type::now() - *token_read_ >= token_reread_period)) {
      reread_token();
    }
    return token_;
  }

 private:
  void setup_tls() {
    error_code ec;
    if (settings_.insecure_skip_tls_verify) {
      ssl_ctx_.set_verify_mode(ssl::verify_none, ec);
    } else {
      ssl_ctx_.set_verify_mode(ssl::verify_peer, ec);
      if (!ec) {
        if (!settings_.ca_file.empty()) {
          ssl_ctx_.load_verify_file(settings_.ca_file, ec);
          if (ec) config_error_ = "cannot load CA file " + settings_.ca_file + ": " + ec.message();
        } else {
          ssl_ctx_.set_default_verify_paths(ec);
        }
      }
    }
    if (ec && config_error_.empty()) config_error_ = "TLS setup failed: " + ec.message();
  }

  void reread_token() {
    token_read_ = clock_type::now();
    if (auto text = read_file(settings_.token_file)) {
      token_ = std::string(model::trim(*text));
    } else {
      log::warn(component, "cannot read the token file " + settings_.token_file);
    }
  }

  template <class F>
  void post(F&& f) {
    if (stopped_) return;
    asio::post(ioc_, [this, f = std::forward<F>(f)]() mutable {
      if (!stopping_) f();
    });
  }

  template <class Fn, class Arg>
  void deliver(Fn& fn, Arg&& arg) {
    if (stopping_ || !fn) return;
    try {
      fn(std::forward<Arg>(arg));
    } catch (const std::exception& e) {
      log::error(component, std::string("callback threw: ") + e.what());
    }
  }

  http::request<http::string_body> make_request(http::verb method, const std::string& target,
                                                std::string body) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, url_.host_header);
    req.set(http::field::user_agent, "iota-orchestrator");
    req.set(http::field::accept, "application/json");
    auto bearer = token();
    if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = std::move(body);
    }
    req.keep_alive(false);
    req.prepare_payload();
    return req;
  }

  // io thread
  void send(http::verb method, std::string target, std::string body, reply_fn done) {
    if (!config_error_.empty()) {
      http_reply reply;
      reply.error = config_error_;
      done(std::move(reply));
      return;
    }
    queued_.push_back(pending_call{method, std::move(target), std::move(body), std::move(done)});
    pump();
  }

  void pump() {
    while (!stopping_ && active_ < max_concurrent && !queued_.empty()) {
      auto call = std::move(queued_.front());
      queued_.pop_front();
      auto op = std::make_shared<request_op>(
          *this, make_request(call.method, call.target, std::move(call.body)),
          std::move(call.done));
      live_.insert(op);
      ++active_;
      op->start();
    }
  }

  // Which instance a pod is: "<instance_name>-<id>" with labels.instanceId = "<id>".
  std::optional<instance_ref> match(const json& pod) {
    std::string name = string_at(pod, {"metadata", "name"});
    std::string label = string_at(pod, {"metadata", "labels", "instanceId"});
    if (name.empty() || label.empty() || label.size() > 9 ||
        !std::all_of(label.begin(), label.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      return std::nullopt;
    }
    std::lock_guard<std::mutex> lock(templates_mutex_);
    for (const auto& [instance_name, entry] : templates_) {
      if (name == instance_name + "-" + label) {
        return instance_ref{entry.resource, instance_name, std::stoi(label)};
      }
    }
    return std::nullopt;
  }

  void report(const json& pod, bool deleted) {
    auto ref = match(pod);
    if (!ref) return;
    pod_status status{*ref, deleted ? pod_phase::missing : phase_of(string_at(pod, {"status", "phase"})),
                      deleted ? std::string("deleted") : detail_of(pod)};
    if (deleted) {
      present_.erase(ref->pod_name());
    } else {
      present_[ref->pod_name()] = *ref;
    }
    deliver(on_change_, std::move(status));
  }

  void schedule(std::function<void()> f) {
    auto gen = watch_gen_;
    retry_timer_.expires_after(settings_.retry_delay);
    retry_timer_.async_wait([this, gen, f = std::move(f)](const error_code& ec) {
      if (ec || gen != watch_gen_ || stopping_) return;
      f();
    });
  }

  void start_sync() {
    ++watch_gen_;
    retry_timer_.cancel();
    if (watch_) watch_->abort();
    watch_.reset();
    gone_ = false;
    auto gen = watch_gen_;
    send(http::verb::get, pods_path_ + "?labelSelector=instanceId", {},
         [this, gen](http_reply r) {
           if (gen != watch_gen_) return;
           auto list = r.error.empty() && r.status == 200 ? json::parse(r.body, nullptr, false)
                                                          : json();
           if (!list.is_object() || !list.contains("items") || !list["items"].is_array()) {
             log::warn(component, "list pods failed (" +
                                      (!r.error.empty() ? r.error
                                       : r.status != 200 ? http_detail(r.status, r.body)
                                                         : std::string("not a pod list")) +
                                      "); again in " +
                                      std::to_string(settings_.retry_delay.count()) + "ms");
             schedule([this] { start_sync(); });
             return;
           }
           std::set<std::string> seen;
           for (const auto& pod : list["items"]) {
             if (!pod.is_object()) continue;
             seen.insert(string_at(pod, {"metadata", "name"}));
             report(pod, false);
           }
           std::vector<instance_ref> gone;
           for (const auto& [name, ref] : present_) {
             if (seen.count(name) == 0) gone.push_back(ref);
           }
           for (const auto& ref : gone) {
             present_.erase(ref.pod_name());
             deliver(on_change_, pod_status{ref, pod_phase::missing, "not listed"});
           }
           resource_version_ = string_at(list, {"metadata", "resourceVersion"});
           start_watch();
         });
  }

  void start_watch() {
    if (stopping_) return;
    events_ = 0;
    gone_ = false;
    watch_started_ = clock_type::now();
    std::string target = pods_path_ + "?watch=1&labelSelector=instanceId&allowWatchBookmarks=true" +
                         "&timeoutSeconds=" + std::to_string(watch_timeout_seconds);
    if (!resource_version_.empty()) target += "&resourceVersion=" + url_encode(resource_version_);
    watch_ = std::make_shared<watch_op>(*this, make_request(http::verb::get, target, {}),
                                        watch_gen_);
    watch_->start();
  }

  void shutdown() {
    stopping_ = true;
    retry_timer_.cancel();
    if (watch_) watch_->abort();
    watch_.reset();
    for (const auto& op : live_) op->abort();
    live_.clear();
    queued_.clear();
    on_change_ = nullptr;
  }

  kubernetes_settings settings_;
  parsed_url url_;
  std::string config_error_;  // a bad url or CA file: every request fails with it
  std::string pods_path_;
  std::string events_path_;
  std::mutex templates_mutex_;
  std::map<std::string, template_entry> templates_;  // by instance_name
  std::atomic<bool> stopped_{false};
  std::mutex run_mutex_;
  std::condition_variable run_cv_;
  bool ran_out_ = false;

  ssl::context ssl_ctx_;
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;

  // ---- io thread only (declared after ioc_: destroyed before it) ----
  asio::steady_timer retry_timer_;
  bool stopping_ = false;
  std::string token_;
  std::optional<clock_type::time_point> token_read_;
  std::deque<pending_call> queued_;
  std::set<std::shared_ptr<connection>> live_;
  std::size_t active_ = 0;
  status_fn on_change_;
  std::shared_ptr<watch_op> watch_;
  std::uint64_t watch_gen_ = 0;
  std::string resource_version_;
  bool gone_ = false;
  std::size_t events_ = 0;  // of the current watch stream
  clock_type::time_point watch_started_;
  std::map<std::string, instance_ref> present_;  // pods last reported as existing

  std::thread io_thread_;
};

// ---- connection ---------------------------------------------------------------------------

connection::connection(driver& d) : d_(d), resolver_(d.ioc()) {
  if (d.url().tls) {
    tls_.emplace(d.ioc(), d.ssl_ctx());
  } else {
    plain_.emplace(d.ioc());
  }
}

void connection::open(step next) {
  auto self = shared_from_this();
  resolver_.async_resolve(
      d_.url().host, d_.url().port,
      [this, self, next](const error_code& ec, const tcp::resolver::results_type& results) {
        if (closed_) return next("resolve", asio::error::operation_aborted);
        if (ec) return next("resolve", ec);
        lowest().async_connect(results, [this, self, next](const error_code& ec,
                                                           const tcp::endpoint&) {
          if (closed_) return next("connect", asio::error::operation_aborted);
          if (ec || !tls_) return next("connect", ec);
          const std::string& host = d_.url().host;
          SSL* native = tls_->native_handle();
          bool ip = is_ip_literal(host);
          if (!ip) SSL_set_tlsext_host_name(native, host.c_str());  // SNI: names only
          if (!d_.settings().insecure_skip_tls_verify) {
            X509_VERIFY_PARAM* param = SSL_get0_param(native);
            if (ip) {
              X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
            } else {
              X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
            }
          }
          tls_->async_handshake(ssl::stream_base::client,
                                [self, next](const error_code& ec) { next("TLS handshake", ec); });
        });
      });
}

// ---- request_op ---------------------------------------------------------------------------

request_op::request_op(driver& d, http::request<http::string_body> request, reply_fn done)
    : connection(d), request_(std::move(request)), done_(std::move(done)), timer_(d.ioc()) {
  parser_.body_limit(max_response_body);
}

void request_op::start() {
  auto self = std::static_pointer_cast<request_op>(shared_from_this());
  timer_.expires_after(d_.settings().request_timeout);
  timer_.async_wait([self](const error_code& ec) {
    if (ec) return;
    http_reply reply;
    reply.error = "timed out after " + std::to_string(self->d_.settings().request_timeout.count()) +
                  "ms";
    self->finish(std::move(reply));
  });
  open([self](const char* stage, const error_code& ec) {
    if (self->finished_) return;
    if (ec) return self->fail(stage, ec);
    self->with_stream([&](auto& stream) {
      http::async_write(stream, self->request_, [self](const error_code& ec, std::size_t) {
        if (self->finished_) return;
        if (ec) return self->fail("send", ec);
        self->with_stream([&](auto& s) {
          http::async_read(s, self->buffer_, self->parser_,
                           [self](const error_code& ec, std::size_t) {
                             if (self->finished_) return;
                             if (ec) return self->fail("receive", ec);
                             auto& response = self->parser_.get();
                             http_reply reply;
                             reply.status = static_cast<int>(response.result_int());
                             reply.body = std::move(response.body());
                             self->finish(std::move(reply));
                           });
        });
      });
    });
  });
}

void request_op::fail(const char* stage, const error_code& ec) {
  http_reply reply;
  reply.error = std::string(stage) + ": " + ec.message();
  finish(std::move(reply));
}

void request_op::finish(http_reply reply) {
  if (finished_) return;
  finished_ = true;
  timer_.cancel();
  close_socket();
  auto self = shared_from_this();  // request_done erases it from live_
  d_.request_done(self, std::move(reply), std::move(done_));
}

void request_op::abort() {
  finished_ = true;
  timer_.cancel();
  close_socket();
}

// ---- watch_op -----------------------------------------------------------------------------

watch_op::watch_op(driver& d, http::request<http::string_body> request, std::uint64_t gen)
    : connection(d), request_(std::move(request)), gen_(gen), timer_(d.ioc()) {
  parser_.body_limit(boost::none);  // a stream, not a document
}

void watch_op::arm_timer(std::chrono::milliseconds d) {
  auto gen = ++timer_gen_;
  timer_.expires_after(d);
  auto self = std::static_pointer_cast<watch_op>(shared_from_this());
  timer_.async_wait([self, gen](const error_code& ec) {
    if (ec || gen != self->timer_gen_ || self->finished_) return;
    self->end(false, 0, "no data within the time limit");
  });
}

void watch_op::start() {
  auto self = std::static_pointer_cast<watch_op>(shared_from_this());
  arm_timer(d_.settings().request_timeout);  // until the response header
  open([self](const char* stage, const error_code& ec) {
    if (self->finished_) return;
    if (ec) return self->end(false, 0, std::string(stage) + ": " + ec.message());
    self->with_stream([&](auto& stream) {
      http::async_write(stream, self->request_, [self](const error_code& ec, std::size_t) {
        if (self->finished_) return;
        if (ec) return self->end(false, 0, "send: " + ec.message());
        self->read_header();
      });
    });
  });
}

void watch_op::read_header() {
  auto self = std::static_pointer_cast<watch_op>(shared_from_this());
  with_stream([&](auto& stream) {
    http::async_read_header(stream, buffer_, parser_, [self](const error_code& ec, std::size_t) {
      if (self->finished_) return;
      if (ec) return self->end(false, 0, "receive: " + ec.message());
      int status = static_cast<int>(self->parser_.get().result_int());
      if (status != 200) {
        return self->end(false, status, "HTTP " + std::to_string(status));
      }
      if (self->parser_.is_done()) return self->end(true, 200, "an empty watch response");
      self->arm_timer(std::chrono::seconds(watch_timeout_seconds) + watch_idle_slack);
      self->read_body();
    });
  });
}

void watch_op::read_body() {
  auto self = std::static_pointer_cast<watch_op>(shared_from_this());
  parser_.get().body().data = chunk_;
  parser_.get().body().size = sizeof chunk_;
  with_stream([&](auto& stream) {
    http::async_read_some(stream, buffer_, parser_, [self](error_code ec, std::size_t) {
      if (self->finished_) return;
      if (ec == http::error::need_buffer) ec = {};
      std::size_t got = sizeof self->chunk_ - self->parser_.get().body().size;
      if (got > 0) {
        self->pending_.append(self->chunk_, got);
        self->arm_timer(std::chrono::seconds(watch_timeout_seconds) + watch_idle_slack);
        if (!self->take_lines()) return;
      }
      if (ec) return self->end(false, 200, "receive: " + ec.message());
      if (self->parser_.is_done()) return self->end(true, 200, "the server ended the watch");
      self->read_body();
    });
  });
}

bool watch_op::take_lines() {
  std::size_t start = 0;
  for (;;) {
    auto newline = pending_.find('\n', start);
    if (newline == std::string::npos) break;
    std::string line = pending_.substr(start, newline - start);
    start = newline + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (!d_.watch_event(gen_, line)) {
      end(false, 0, "the watch reported an error");
      return false;
    }
    if (finished_) return false;
  }
  pending_.erase(0, start);
  if (pending_.size() > max_event_line) {
    end(false, 0, "an event larger than " + std::to_string(max_event_line) + " bytes");
    return false;
  }
  return true;
}

void watch_op::end(bool clean, int status, std::string why) {
  if (finished_) return;
  finished_ = true;
  ++timer_gen_;
  timer_.cancel();
  close_socket();
  auto self = shared_from_this();  // watch_ended drops the driver's reference
  d_.watch_ended(gen_, clean, status, why);
}

void watch_op::abort() {
  finished_ = true;
  ++timer_gen_;
  timer_.cancel();
  close_socket();
}

}  // namespace

std::unique_ptr<instance_driver> make_kubernetes_driver(kubernetes_settings settings) {
  return std::make_unique<driver>(std::move(settings));
}

}  // namespace iota::io
