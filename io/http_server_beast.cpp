// The HTTP/1.1 server of io/http_server.hpp on Boost.Beast + Asio: connections, pipelining,
// timers and stop. Its pure parts are io/http_codec (targets, serialisation) and
// io/static_files; Beast stays inside the iota_http target.
//
// Threads: `settings.threads` io threads run one io_context. Every connection lives on its
// own strand (its socket's executor); all of its state is touched on that strand only. The
// handler is called on the connection's strand; a responder may run on any thread and posts
// the answer back onto the strand.
//
// Per connection, requests are read one after the other (pipelining: the next request is
// read while earlier ones wait for their handler) and each gets a slot in `slots_`; slots
// are written strictly in order, each once it has its response. Reading pauses when
// `max_pipeline` answers are outstanding.
//
// Timers, per connection: `read_timer_` is the idle limit while waiting for the first byte
// of a request (only while nothing is outstanding), the header limit from the first byte
// of a request to its last, and the linger limit while closing; `write_timer_` bounds a
// write to a client that does not read; each slot has its response timer (503).
//
// Closing after an error response (400, 408, 413, 431) or `Connection: close`: the response
// is written, the sending side shut down, and what the client still sends is read and
// dropped for a short while, so that the kernel does not reset the connection (and the
// client lose the response) because of unread request bytes.
//
// Lifetime: responders hold the connection weakly and a shared `gate` that stop() closes
// under its mutex, so no responder posts to the io_context once stop() has passed it.
// stop() closes the acceptor and every connection on their strands, waits a little for
// them, then stops the io_context and joins its threads. Do not call stop() (or destroy
// the server) on an io thread, i.e. from the handler.
#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "io/http_beast_request.hpp"
#include "io/http_codec.hpp"
#include "io/http_server.hpp"
#include "io/tls_files.hpp"

namespace iota::io {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using strand_type = asio::strand<asio::io_context::executor_type>;

constexpr std::size_t linger_bytes = 1 << 20;      // dropped while closing, at most
constexpr auto linger_time = std::chrono::milliseconds(2000);
constexpr auto accept_retry = std::chrono::milliseconds(100);  // after EMFILE and the like
constexpr auto stop_grace = std::chrono::milliseconds(1000);

// Closed by stop(): responders stop posting into the io_context.
struct gate {
  std::mutex mutex;
  bool open = true;
};

class server_impl;

using tls_stream = asio::ssl::stream<tcp::socket>;

// What the server and the responders see of a connection, plain or TLS.
class connection : public std::enable_shared_from_this<connection> {
 public:
  virtual ~connection() = default;
  virtual void start() = 0;
  virtual void close() = 0;
  virtual void complete(std::uint64_t seq, http_response response) = 0;
  virtual asio::any_io_executor executor() = 0;
};

// One connection over `Stream`: tcp::socket (HTTP) or tls_stream (HTTPS). The TLS context
// is held for as long as the stream that uses it.
template <class Stream>
class connection_impl final : public connection {
 public:
  connection_impl(server_impl& server, tcp::socket socket, std::shared_ptr<asio::ssl::context> tls);
  ~connection_impl() override;

  void start() override;
  void close() override;
  void complete(std::uint64_t seq, http_response response) override;
  asio::any_io_executor executor() override { return lowest().get_executor(); }

 private:
  static constexpr bool is_tls = std::is_same_v<Stream, tls_stream>;
  tcp::socket& lowest() { return beast::get_lowest_layer(stream_); }
  std::shared_ptr<connection_impl> shared_self() {
    return std::static_pointer_cast<connection_impl>(shared_from_this());
  }

  enum class timer_purpose { idle, request, linger };

  struct slot {
    slot(std::uint64_t s, const asio::any_io_executor& ex) : seq(s), timer(ex) {}
    std::uint64_t seq;
    asio::steady_timer timer;  // response timeout
    response_context ctx;
    bool ready = false;
    std::string bytes;
  };

  void start_read();
  void wait_first_byte();
  void on_first_bytes(const error_code& ec, std::size_t n);
  void begin_request();
  void on_header(const error_code& ec);
  void on_body(const error_code& ec);
  void on_read_error(const error_code& ec);
  void dispatch();
  void push_error(int status, const std::string& text);
  void try_write();
  void on_write(const error_code& ec, const std::shared_ptr<slot>& s);
  void linger();
  void drain();
  void update_idle_timer();
  void arm_read_timer(std::chrono::milliseconds d, timer_purpose purpose);
  void disarm_read_timer();
  void on_read_timeout(timer_purpose purpose);
  slot* find_slot(std::uint64_t seq);
  http_response preflight(const http_request& request, response_context& ctx) const;
  void apply_cors(const http_request& request, response_context& ctx) const;

  server_impl& server_;
  std::shared_ptr<asio::ssl::context> tls_;  // before stream_: outlives it
  Stream stream_;
  asio::steady_timer read_timer_;
  asio::steady_timer write_timer_;
  std::uint64_t read_timer_gen_ = 0;
  std::uint64_t write_timer_gen_ = 0;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<std::shared_ptr<slot>> slots_;
  std::uint64_t next_seq_ = 0;
  std::size_t drained_ = 0;
  bool first_request_ = true;
  bool reading_ = false;        // a read of a request is under way
  bool waiting_first_ = false;  // ... and no byte of it has arrived yet
  bool read_stopped_ = false;   // no further requests on this connection
  bool read_timed_out_ = false;
  bool writing_ = false;
  bool lingering_ = false;
  bool closed_ = false;
};

class server_impl final : public http_server {
 public:
  server_impl(http_server_settings settings, http_handler handler)
      : settings_(std::move(settings)),
        handler_(std::move(handler)),
        gate_(std::make_shared<gate>()),
        ioc_(static_cast<int>(std::max<std::size_t>(1, settings_.threads))),
        acceptor_(asio::make_strand(ioc_)),
        retry_timer_(acceptor_.get_executor()) {
    if (settings_.threads == 0) settings_.threads = 1;
    if (settings_.max_connections == 0) settings_.max_connections = 1;
  }

  ~server_impl() override { stop(); }

  bool start(std::string& error) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (started_) {
        error = "http server already started";
        return false;
      }
    }
    tcp::endpoint endpoint;
    if (!resolve(settings_.listen, endpoint, error)) return false;
    if (!settings_.tls_cert.empty()) {
      tls_.emplace(settings_.tls_cert, settings_.tls_key, settings_.on_event);
      if (!tls_->load(error)) return false;
    }
    error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      error = "cannot listen on " + settings_.listen + ": " + ec.message();
      error_code ignored;
      acceptor_.close(ignored);
      return false;
    }
    port_ = acceptor_.local_endpoint(ec).port();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      started_ = true;
    }
    work_.emplace(ioc_.get_executor());
    asio::post(acceptor_.get_executor(), [this] { do_accept(); });
    for (std::size_t i = 0; i < settings_.threads; ++i) {
      threads_.emplace_back([this] { run(); });
    }
    return true;
  }

  int port() const override { return port_; }

  void stop() override {
    {
      std::lock_guard<std::mutex> lock(gate_->mutex);
      gate_->open = false;
    }
    std::vector<std::shared_ptr<connection>> live;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!started_ || stopping_) return;
      stopping_ = true;
      for (auto& entry : connections_) {
        if (auto c = entry.second.lock()) live.push_back(std::move(c));
      }
    }
    asio::post(acceptor_.get_executor(), [this] {
      error_code ignored;
      acceptor_.close(ignored);
      retry_timer_.cancel();
      std::lock_guard<std::mutex> lock(mutex_);
      acceptor_closed_ = true;
      cv_.notify_all();
    });
    for (auto& c : live) {
      asio::post(c->executor(), [c] { c->close(); });
    }
    live.clear();  // the posted closures keep them alive as long as needed
    work_.reset();
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait_for(lock, stop_grace, [this] { return acceptor_closed_ && connections_.empty(); });
    }
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    // No io thread runs any more: what did not close in time is closed from here.
    error_code ignored;
    acceptor_.close(ignored);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& entry : connections_) {
        if (auto c = entry.second.lock()) live.push_back(std::move(c));
      }
    }
    for (auto& c : live) c->close();
  }

  const http_server_settings& settings() const { return settings_; }
  const http_handler& handler() const { return handler_; }
  const std::shared_ptr<gate>& gate_ptr() const { return gate_; }

  void unregister(connection* c) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (connections_.erase(c) > 0 && connections_.empty()) cv_.notify_all();
  }

 private:
  static bool resolve(const std::string& listen, tcp::endpoint& endpoint, std::string& error) {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) {
      error = "http listen address '" + listen + "' is not ADDR:PORT";
      return false;
    }
    std::string host = listen.substr(0, colon);
    std::string port_text = listen.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    if (host.empty()) host = "0.0.0.0";
    unsigned long port = 0;
    if (port_text.empty() || port_text.size() > 5 ||
        !std::all_of(port_text.begin(), port_text.end(),
                     [](char c) { return c >= '0' && c <= '9'; }) ||
        (port = std::stoul(port_text)) > 65535) {
      error = "http listen address '" + listen + "' has a bad port";
      return false;
    }
    error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (!ec) {
      endpoint = tcp::endpoint(address, static_cast<unsigned short>(port));
      return true;
    }
    asio::io_context resolver_context;
    tcp::resolver resolver(resolver_context);
    auto results = resolver.resolve(host, port_text, ec);
    if (ec || results.empty()) {
      error = "cannot resolve http listen host '" + host +
              "': " + (ec ? ec.message() : std::string("no address"));
      return false;
    }
    endpoint = results.begin()->endpoint();
    return true;
  }

  void run() {
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (...) {
        // A handler let an exception out; keep serving the other connections.
      }
    }
  }

  void do_accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](error_code ec, tcp::socket socket) {
      on_accept(ec, std::move(socket));
    });
  }

  void on_accept(const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      retry_timer_.expires_after(accept_retry);
      retry_timer_.async_wait([this](const error_code& e) {
        if (!e && acceptor_.is_open()) do_accept();
      });
      return;
    }
    std::shared_ptr<connection> c;
    auto tls = tls_ ? tls_->current() : nullptr;  // on the acceptor's strand
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!stopping_ && connections_.size() < settings_.max_connections) {
        if (tls)
          c = std::make_shared<connection_impl<tls_stream>>(*this, std::move(socket), std::move(tls));
        else
          c = std::make_shared<connection_impl<tcp::socket>>(*this, std::move(socket), nullptr);
        connections_.emplace(c.get(), c);
      }
    }
    if (c) {
      asio::post(c->executor(), [c] { c->start(); });
    } else {
      error_code ignored;
      socket.close(ignored);  // over max_connections, or stopping
    }
    do_accept();
  }

  http_server_settings settings_;
  http_handler handler_;
  std::shared_ptr<gate> gate_;
  std::optional<tls_files> tls_;  // empty: plain HTTP
  int port_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool started_ = false;
  bool stopping_ = false;
  bool acceptor_closed_ = false;
  std::unordered_map<connection*, std::weak_ptr<connection>> connections_;
  std::vector<std::thread> threads_;
  // Last: destroyed first, with the handlers (and connections) it still holds.
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
};

template <class Stream>
Stream make_stream(tcp::socket socket, asio::ssl::context* tls) {
  if constexpr (std::is_same_v<Stream, tls_stream>)
    return Stream(std::move(socket), *tls);
  else
    return Stream(std::move(socket));
}

template <class Stream>
connection_impl<Stream>::connection_impl(server_impl& server, tcp::socket socket,
                                         std::shared_ptr<asio::ssl::context> tls)
    : server_(server),
      tls_(std::move(tls)),
      stream_(make_stream<Stream>(std::move(socket), tls_.get())),
      read_timer_(lowest().get_executor()),
      write_timer_(lowest().get_executor()) {}

template <class Stream>
connection_impl<Stream>::~connection_impl() { server_.unregister(this); }

template <class Stream>
void connection_impl<Stream>::start() {
  error_code ignored;
  lowest().set_option(tcp::no_delay(true), ignored);
  if constexpr (is_tls) {
    // The handshake must finish within the header limit, like a request's first line.
    arm_read_timer(server_.settings().header_timeout, timer_purpose::linger);
    stream_.async_handshake(asio::ssl::stream_base::server, [self = shared_self()](const error_code& ec) {
      if (self->closed_)
        return;
      self->disarm_read_timer();
      if (ec) {  // not TLS, or a client that does not trust us: nothing to answer
        self->close();
        return;
      }
      self->start_read();
    });
  } else {
    start_read();
  }
}

template <class Stream>
void connection_impl<Stream>::close() {
  if (closed_) return;
  closed_ = true;
  error_code ignored;
  lowest().shutdown(tcp::socket::shutdown_both, ignored);
  lowest().close(ignored);
  read_timer_.cancel();
  write_timer_.cancel();
  for (auto& s : slots_) s->timer.cancel();
  server_.unregister(this);
}

template <class Stream>
void connection_impl<Stream>::start_read() {
  if (closed_ || read_stopped_ || reading_ || slots_.size() >= max_pipeline) return;
  reading_ = true;
  parser_.emplace();
  parser_->header_limit(header_limit);
  parser_->body_limit(server_.settings().body_limit);
  if (buffer_.size() > 0) {
    begin_request();  // pipelined bytes already here
  } else {
    wait_first_byte();
  }
}

template <class Stream>
void connection_impl<Stream>::wait_first_byte() {
  waiting_first_ = true;
  update_idle_timer();
  stream_.async_read_some(buffer_.prepare(4096),
                          [self = shared_self()](const error_code& ec, std::size_t n) {
                            self->on_first_bytes(ec, n);
                          });
}

template <class Stream>
void connection_impl<Stream>::on_first_bytes(const error_code& ec, std::size_t n) {
  if (closed_) return;
  waiting_first_ = false;
  if (ec) {
    on_read_error(ec);
    return;
  }
  buffer_.commit(n);
  begin_request();
}

template <class Stream>
void connection_impl<Stream>::begin_request() {
  read_timed_out_ = false;
  // From the first byte on, the whole request must arrive within header_timeout.
  arm_read_timer(server_.settings().header_timeout, timer_purpose::request);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_self()](const error_code& ec, std::size_t) { self->on_header(ec); });
}

template <class Stream>
void connection_impl<Stream>::on_header(const error_code& ec) {
  if (closed_) return;
  if (ec) {
    on_read_error(ec);
    return;
  }
  auto& message = parser_->get();
  auto expect = message[http::field::expect];
  if (!parser_->is_done() && iequals({expect.data(), expect.size()}, "100-continue") &&
      slots_.empty() && !writing_) {
    static const std::string continue_response = "HTTP/1.1 100 Continue\r\n\r\n";
    writing_ = true;
    asio::async_write(stream_, asio::buffer(continue_response),
                      [self = shared_self()](const error_code& e, std::size_t) {
                        self->writing_ = false;
                        if (self->closed_) return;
                        if (e) {
                          self->close();
                          return;
                        }
                        self->try_write();
                      });
  }
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_self()](const error_code& e, std::size_t) { self->on_body(e); });
}

template <class Stream>
void connection_impl<Stream>::on_body(const error_code& ec) {
  if (closed_) return;
  reading_ = false;
  disarm_read_timer();
  if (ec) {
    on_read_error(ec);
    return;
  }
  dispatch();
  start_read();
}

template <class Stream>
void connection_impl<Stream>::on_read_error(const error_code& ec) {
  reading_ = false;
  waiting_first_ = false;
  read_stopped_ = true;
  disarm_read_timer();
  if (closed_) return;
  const auto& http_category = http::make_error_code(http::error::bad_method).category();
  if (ec == asio::error::operation_aborted && read_timed_out_) {
    push_error(408, "request not received within " +
                        std::to_string(server_.settings().header_timeout.count()) + " ms");
  } else if (ec == http::error::body_limit) {
    push_error(413,
               "request body over " + std::to_string(server_.settings().body_limit) + " bytes");
  } else if (ec == http::error::header_limit) {
    push_error(431, "request header over " + std::to_string(header_limit) + " bytes");
  } else if (ec.category() == http_category && ec != http::error::end_of_stream &&
             ec != http::error::partial_message) {
    push_error(400, "malformed request: " + ec.message());
  } else if (slots_.empty() && !writing_) {
    close();  // the client went away or half-closed; nothing left to answer
  }
  // Otherwise on_write closes once the outstanding answers are written.
}

template <class Stream>
void connection_impl<Stream>::dispatch() {
  auto message = parser_->release();
  parser_.reset();

  http_request request = to_http_request(message);
  {
    error_code ec;
    auto peer = lowest().remote_endpoint(ec);
    if (!ec)
      request.peer = peer.address().to_string() + ":" + std::to_string(peer.port());
  }
  bool head = request.method == "HEAD";
  if (head) request.method = "GET";  // routed as GET, answered without body

  auto s = std::make_shared<slot>(next_seq_++, lowest().get_executor());
  s->ctx.head_only = head;
  s->ctx.close_after = !message.keep_alive();
  if (s->ctx.close_after) read_stopped_ = true;
  slots_.push_back(s);
  first_request_ = false;

  if (!parse_target(request.target, request.path, request.query)) {
    apply_cors(request, s->ctx);
    complete(s->seq, json_error(400, "malformed request target"));
    return;
  }
  if (request.method == "OPTIONS") {
    complete(s->seq, preflight(request, s->ctx));
    return;
  }
  apply_cors(request, s->ctx);

  s->timer.expires_after(server_.settings().response_timeout);
  s->timer.async_wait([self = shared_self(), seq = s->seq](const error_code& ec) {
    if (!ec) self->complete(seq, json_error(503, "timed out"));
  });

  auto fired = std::make_shared<std::atomic<bool>>(false);
  http_responder responder = [gate = server_.gate_ptr(), weak = weak_from_this(), seq = s->seq,
                              fired](http_response response) {
    if (fired->exchange(true)) return;
    std::lock_guard<std::mutex> lock(gate->mutex);
    if (!gate->open) return;
    if (auto c = weak.lock()) {
      // Posted while the gate is held: the io_context is alive; `c` is released inside too.
      asio::post(c->executor(),
                 [c, seq, r = std::move(response)]() mutable { c->complete(seq, std::move(r)); });
    }
  };
  try {
    server_.handler()(std::move(request), std::move(responder));
  } catch (const std::exception& e) {
    complete(s->seq, json_error(500, std::string("internal error: ") + e.what()));
  } catch (...) {
    complete(s->seq, json_error(500, "internal error"));
  }
}

template <class Stream>
void connection_impl<Stream>::apply_cors(const http_request& request, response_context& ctx) const {
  auto origin = request.header("origin");
  const auto& allowed = server_.settings().cors_origins;
  if (origin.empty() || allowed.empty()) return;
  ctx.vary_origin = true;
  bool ok = std::find(allowed.begin(), allowed.end(), "*") != allowed.end() ||
            std::find(allowed.begin(), allowed.end(), origin) != allowed.end();
  if (ok) ctx.cors_origin = clean_value(origin);
}

template <class Stream>
http_response connection_impl<Stream>::preflight(const http_request& request, response_context& ctx) const {
  apply_cors(request, ctx);
  http_response response;
  response.status = 204;
  response.content_type.clear();
  response.headers.emplace_back("Allow", "GET, HEAD, POST, OPTIONS");
  if (!ctx.cors_origin.empty()) {
    std::string requested = request.header("access-control-request-headers");
    std::string allow_headers;
    for (char c : requested) {
      if (is_token_char(c) || c == ',' || c == ' ') allow_headers.push_back(c);
    }
    if (allow_headers.find_first_not_of(" ,") == std::string::npos) allow_headers = "Content-Type";
    response.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    response.headers.emplace_back("Access-Control-Allow-Headers", allow_headers);
    response.headers.emplace_back("Access-Control-Max-Age", "600");
  }
  return response;
}

template <class Stream>
typename connection_impl<Stream>::slot* connection_impl<Stream>::find_slot(std::uint64_t seq) {
  for (auto& s : slots_) {
    if (s->seq == seq) return s.get();
  }
  return nullptr;
}

template <class Stream>
void connection_impl<Stream>::complete(std::uint64_t seq, http_response response) {
  if (closed_) return;
  slot* s = find_slot(seq);
  if (s == nullptr || s->ready) return;  // late: already timed out (503) or written
  s->timer.cancel();
  s->bytes = serialize(response, s->ctx);
  s->ready = true;
  try_write();
}

template <class Stream>
void connection_impl<Stream>::push_error(int status, const std::string& text) {
  auto s = std::make_shared<slot>(next_seq_++, lowest().get_executor());
  s->ctx.close_after = true;
  slots_.push_back(s);
  complete(s->seq, json_error(status, text));
}

template <class Stream>
void connection_impl<Stream>::try_write() {
  if (writing_ || closed_ || lingering_ || slots_.empty() || !slots_.front()->ready) return;
  writing_ = true;
  auto s = slots_.front();
  // A client that does not read its answers is dropped.
  const auto& settings = server_.settings();
  write_timer_.expires_after(std::max(settings.idle_timeout, settings.header_timeout));
  auto gen = ++write_timer_gen_;
  write_timer_.async_wait([self = shared_self(), gen](const error_code& ec) {
    if (!ec && gen == self->write_timer_gen_ && self->writing_) self->close();
  });
  asio::async_write(
      stream_, asio::buffer(s->bytes),
      [self = shared_self(), s](const error_code& ec, std::size_t) { self->on_write(ec, s); });
}

template <class Stream>
void connection_impl<Stream>::on_write(const error_code& ec, const std::shared_ptr<slot>& s) {
  writing_ = false;
  ++write_timer_gen_;
  write_timer_.cancel();
  if (closed_) return;
  if (ec) {
    close();
    return;
  }
  slots_.pop_front();
  if (s->ctx.close_after) {
    linger();
    return;
  }
  if (read_stopped_ && !reading_ && slots_.empty()) {
    close();  // the client half-closed and has every answer
    return;
  }
  try_write();
  if (!reading_) {
    start_read();  // it paused on a full pipeline
  } else {
    update_idle_timer();
  }
}

template <class Stream>
void connection_impl<Stream>::linger() {
  if (reading_) {
    close();
    return;
  }
  lingering_ = true;
  read_stopped_ = true;
  error_code ignored;
  lowest().shutdown(tcp::socket::shutdown_send, ignored);
  arm_read_timer(
      std::min<std::chrono::milliseconds>(linger_time, server_.settings().header_timeout),
      timer_purpose::linger);
  buffer_.clear();
  drain();
}

template <class Stream>
void connection_impl<Stream>::drain() {
  stream_.async_read_some(buffer_.prepare(4096),
                          [self = shared_self()](const error_code& ec, std::size_t n) {
                            if (self->closed_) return;
                            self->drained_ += n;
                            if (ec || self->drained_ > linger_bytes) {
                              self->close();
                              return;
                            }
                            self->drain();
                          });
}

template <class Stream>
void connection_impl<Stream>::update_idle_timer() {
  if (!waiting_first_) return;
  if (slots_.empty() && !writing_) {
    const auto& s = server_.settings();
    arm_read_timer(first_request_ ? s.header_timeout : s.idle_timeout, timer_purpose::idle);
  } else {
    disarm_read_timer();  // answers outstanding: the connection is not idle
  }
}

template <class Stream>
void connection_impl<Stream>::arm_read_timer(std::chrono::milliseconds d, timer_purpose purpose) {
  auto gen = ++read_timer_gen_;
  read_timer_.expires_after(d);
  read_timer_.async_wait([self = shared_self(), gen, purpose](const error_code& ec) {
    if (ec || gen != self->read_timer_gen_) return;
    self->on_read_timeout(purpose);
  });
}

template <class Stream>
void connection_impl<Stream>::disarm_read_timer() {
  ++read_timer_gen_;
  read_timer_.cancel();
}

template <class Stream>
void connection_impl<Stream>::on_read_timeout(timer_purpose purpose) {
  if (closed_) return;
  if (purpose != timer_purpose::request || writing_) {
    close();  // idle, lingering, or a stalled request behind a write in progress
    return;
  }
  // Cancel the read; on_read_error answers 408 and closes.
  read_timed_out_ = true;
  error_code ignored;
  lowest().cancel(ignored);
}

}  // namespace

std::unique_ptr<http_server> make_http_server(http_server_settings settings, http_handler handler) {
  return std::make_unique<server_impl>(std::move(settings), std::move(handler));
}

}  // namespace iota::io
