// io/http_server_beast.cpp over real sockets on 127.0.0.1: a raw client written here sends
// exact bytes (pipelined, malformed, slow) and parses the answers.
// Every wait has a generous deadline: CI is a loaded 2-core machine. Time bounds that are
// asserted (slowloris, idle, 503, stop) leave seconds of slack.
#include "io/http_server.hpp"
#include "io/static_files.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace io = iota::io;
namespace fs = std::filesystem;
using nlohmann::json;
using steady = std::chrono::steady_clock;

namespace {

constexpr auto deadline = 20s;

struct parsed_response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names; repeated: joined by ", "
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A blocking TCP client with deadlines (poll), for byte-exact requests.
class raw_client {
 public:
  explicit raw_client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~raw_client() { close(); }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  bool connected() const { return connected_; }
  bool closed() const { return eof_; }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  // False once the server has closed or reset the connection.
  bool send(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      auto n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Reads what is there (waiting up to `wait`); false on EOF, error or nothing in time.
  bool fill(std::chrono::milliseconds wait) {
    if (eof_) return false;
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(wait.count()));
    if (r <= 0) return false;
    char chunk[16384];
    auto n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  bool fill_until(steady::time_point until) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
    if (left <= 0ms) return false;
    return fill(left);
  }

  // The head of one response (through the blank line), interim ones included.
  std::optional<std::string> read_head(std::chrono::milliseconds timeout = deadline) {
    auto until = steady::now() + timeout;
    for (;;) {
      auto end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = buffer_.substr(0, end + 4);
        buffer_.erase(0, end + 4);
        return head;
      }
      if (!fill_until(until)) return std::nullopt;
    }
  }

  // One final response; `head_request` when it answers a HEAD (no body follows).
  std::optional<parsed_response> read_response(std::chrono::milliseconds timeout = deadline,
                                               bool head_request = false) {
    auto until = steady::now() + timeout;
    for (;;) {
      auto head =
          read_head(std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now()));
      if (!head) return std::nullopt;
      parsed_response r;
      std::size_t line_end = head->find("\r\n");
      std::string status_line = head->substr(0, line_end);
      if (status_line.rfind("HTTP/1.1 ", 0) != 0 || status_line.size() < 12) return std::nullopt;
      r.status = std::stoi(status_line.substr(9, 3));
      std::size_t pos = line_end + 2;
      while (pos < head->size()) {
        auto next = head->find("\r\n", pos);
        if (next == pos) break;
        std::string line = head->substr(pos, next - pos);
        pos = next + 2;
        auto colon = line.find(':');
        if (colon == std::string::npos) return std::nullopt;
        auto name = lower(line.substr(0, colon));
        auto value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        auto& slot = r.headers[name];
        slot = slot.empty() ? value : slot + ", " + value;
      }
      if (r.status < 200) continue;  // 100 Continue
      std::size_t length = 0;
      if (!r.header("content-length").empty()) length = std::stoul(r.header("content-length"));
      if (head_request || r.status == 204 || r.status == 304) length = 0;
      while (buffer_.size() < length) {
        if (!fill_until(until)) return std::nullopt;
      }
      r.body = buffer_.substr(0, length);
      buffer_.erase(0, length);
      return r;
    }
  }

  // Reads and drops until the server closes; false if it is still open at the deadline.
  bool wait_closed(std::chrono::milliseconds timeout = deadline) {
    auto until = steady::now() + timeout;
    while (!eof_) {
      if (steady::now() >= until) return false;
      fill_until(until);
    }
    return true;
  }

  std::string& buffered() { return buffer_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buffer_;
};

std::string get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

std::string post(const std::string& target, const std::string& body,
                 const std::string& extra = "") {
  return "POST " + target + " HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

// Answers with what it received.
void echo(io::http_request request, io::http_responder respond) {
  json headers = json::object();
  for (const auto& [name, value] : request.headers) headers[name] = value;
  json j = {{"method", request.method},
            {"path", request.path},
            {"target", request.target},
            {"query", request.query},
            {"body", request.body},
            {"headers", headers},
            {"x-test", request.header("x-test")}};
  io::http_response response;
  response.body = j.dump();
  response.headers.emplace_back("X-Echo", "1");
  respond(std::move(response));
}

io::http_server_settings test_settings() {
  io::http_server_settings s;
  s.listen = "127.0.0.1:0";
  s.body_limit = 1024;
  s.header_timeout = 5s;
  s.idle_timeout = 30s;
  s.response_timeout = 10s;
  s.threads = 2;
  return s;
}

struct running_server {
  running_server(io::http_server_settings settings, io::http_handler handler)
      : server(io::make_http_server(std::move(settings), std::move(handler))) {
    std::string error;
    bool ok = server->start(error);
    INFO(error);
    REQUIRE(ok);
    port = server->port();
    REQUIRE(port > 0);
  }
  std::unique_ptr<io::http_server> server;
  int port = 0;
};

// Responders parked by a handler, with the request path, for the test to answer later.
struct parked {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::pair<std::string, io::http_responder>> items;
  std::atomic<int> calls{0};

  void add(const std::string& path, io::http_responder r) {
    std::lock_guard<std::mutex> lock(mutex);
    items.emplace_back(path, std::move(r));
    cv.notify_all();
  }
  bool wait_count(std::size_t n, std::chrono::milliseconds timeout = deadline) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, timeout, [&] { return items.size() >= n; });
  }
};

// Never answers /never (parks its responder in `held`); echoes every other request.
io::http_handler park_never_echo_rest(std::shared_ptr<parked> held) {
  return [held](io::http_request req, io::http_responder r) {
    if (req.path == "/never") {
      held->add(req.path, std::move(r));
    } else {
      echo(std::move(req), std::move(r));
    }
  };
}

io::http_response text(const std::string& body) {
  io::http_response r;
  r.content_type = "text/plain";
  r.body = body;
  return r;
}

double seconds_since(steady::time_point start) {
  return std::chrono::duration<double>(steady::now() - start).count();
}

// A fresh directory under the temp dir, removed at scope end.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::random_device rd;
    path = fs::temp_directory_path() /
           ("iota_http_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write_file(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

}  // namespace

TEST_CASE("http server: requests reach the handler with method, path, query, body, headers",
          "[http]") {
  running_server s(test_settings(), echo);
  raw_client c(s.port);
  REQUIRE(c.connected());

  REQUIRE(c.send(get("/v1/api/p%20q/r?a=1&b=hello+world&c=%26%3D&d&e=", "X-Test: Foo\r\n")));
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("content-type") == "application/json");
  CHECK(r->header("content-length") == std::to_string(r->body.size()));
  CHECK(r->header("connection") == "keep-alive");
  CHECK(r->header("server") == "iota-orchestrator");
  CHECK(r->header("x-echo") == "1");
  auto j = json::parse(r->body);
  CHECK(j["method"] == "GET");
  CHECK(j["path"] == "/v1/api/p q/r");
  CHECK(j["target"] == "/v1/api/p%20q/r?a=1&b=hello+world&c=%26%3D&d&e=");
  CHECK(j["query"] == json({{"a", "1"}, {"b", "hello world"}, {"c", "&="}, {"d", ""}, {"e", ""}}));
  CHECK(j["x-test"] == "Foo");
  CHECK(j["headers"]["host"] == "test");
  CHECK(j["body"] == "");

  REQUIRE(c.send(post("/v1/api/orchestrations/Thing/orchestrate", R"({"maxInstances":3})")));
  r = c.read_response();
  REQUIRE(r);
  j = json::parse(r->body);
  CHECK(j["method"] == "POST");
  CHECK(j["path"] == "/v1/api/orchestrations/Thing/orchestrate");
  CHECK(j["body"] == R"({"maxInstances":3})");
  CHECK(j["headers"]["content-type"] == "application/json");

  SECTION("HEAD is routed as GET and answered without a body") {
    REQUIRE(c.send("HEAD /x HTTP/1.1\r\nHost: test\r\n\r\n"));
    r = c.read_response(deadline, true);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(std::stoul(r->header("content-length")) > 0);
    CHECK(r->body.empty());
    // No stray body bytes: the next answer on the connection parses.
    REQUIRE(c.send(get("/after-head")));
    r = c.read_response();
    REQUIRE(r);
    CHECK(json::parse(r->body)["path"] == "/after-head");
  }
  SECTION("Connection: close is honoured") {
    REQUIRE(c.send(get("/bye", "Connection: close\r\n")));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());
  }
  SECTION("HTTP/1.0 without keep-alive gets its answer, then the connection closes") {
    REQUIRE(c.send("GET /old HTTP/1.0\r\n\r\n"));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());
  }
  SECTION("a malformed percent escape in the target is a 400") {
    REQUIRE(c.send(get("/a%zz")));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(json::parse(r->body)["error"] == "malformed request target");
  }
  SECTION("Expect: 100-continue gets the interim answer") {
    REQUIRE(
        c.send("POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
    auto interim = c.read_head();
    REQUIRE(interim);
    CHECK(interim->rfind("HTTP/1.1 100 Continue\r\n", 0) == 0);
    REQUIRE(c.send("hello"));
    r = c.read_response();
    REQUIRE(r);
    CHECK(json::parse(r->body)["body"] == "hello");
  }
}

TEST_CASE("http server: a keep-alive connection serves 100 requests", "[http]") {
  running_server s(test_settings(), echo);
  raw_client c(s.port);
  REQUIRE(c.connected());
  int ok = 0;
  for (int i = 0; i < 100; ++i) {
    REQUIRE(c.send(get("/n/" + std::to_string(i))));
    auto r = c.read_response();
    REQUIRE(r);
    if (r->status == 200 && json::parse(r->body)["path"] == "/n/" + std::to_string(i) &&
        r->header("connection") == "keep-alive") {
      ++ok;
    }
  }
  CHECK(ok == 100);
  CHECK_FALSE(c.closed());
}

TEST_CASE("http server: pipelined requests are answered in order", "[http]") {
  SECTION("answers given out of order") {
    auto held = std::make_shared<parked>();
    running_server s(test_settings(), [held](io::http_request req, io::http_responder r) {
      held->add(req.path, std::move(r));
    });
    raw_client c(s.port);
    std::string batch;
    for (int i = 0; i < 10; ++i) batch += get("/p/" + std::to_string(i));
    REQUIRE(c.send(batch));
    REQUIRE(held->wait_count(10));
    {
      // Answered last first, from this (non-io) thread.
      std::lock_guard<std::mutex> lock(held->mutex);
      for (auto it = held->items.rbegin(); it != held->items.rend(); ++it) {
        it->second(text(it->first));
      }
    }
    for (int i = 0; i < 10; ++i) {
      auto r = c.read_response();
      REQUIRE(r);
      CHECK(r->body == "/p/" + std::to_string(i));
    }
  }
  SECTION("more requests than the pipeline depth in one write") {
    running_server s(test_settings(), echo);
    raw_client c(s.port);
    std::string batch;
    for (int i = 0; i < 60; ++i) batch += get("/q/" + std::to_string(i));
    batch += post("/q/last", "tail");
    REQUIRE(c.send(batch));
    for (int i = 0; i < 60; ++i) {
      auto r = c.read_response();
      REQUIRE(r);
      CHECK(json::parse(r->body)["path"] == "/q/" + std::to_string(i));
    }
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(json::parse(r->body)["body"] == "tail");
  }
}

TEST_CASE("http server: bodies over body_limit get 413 and the connection closes", "[http]") {
  std::atomic<int> calls{0};
  running_server s(test_settings(), [&calls](io::http_request req, io::http_responder r) {
    ++calls;
    echo(std::move(req), std::move(r));
  });
  const std::string expected_error = R"({"error":"request body over 1024 bytes"})";

  SECTION("exactly at the limit is fine") {
    raw_client c(s.port);
    REQUIRE(c.send(post("/b", std::string(1024, 'x'))));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  SECTION("Content-Length over the limit, body sent") {
    raw_client c(s.port);
    c.send(post("/b", std::string(4096, 'x')));  // the server may close before all is sent
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(r->body == expected_error);
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());
    CHECK(calls == 0);
  }
  SECTION("a lying Content-Length is refused without waiting for the body") {
    raw_client c(s.port);
    REQUIRE(c.send("POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000\r\n\r\nshort"));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(r->body == expected_error);
    CHECK(c.wait_closed());
    CHECK(calls == 0);
  }
  SECTION("a chunked body over the limit") {
    raw_client c(s.port);
    std::string chunk(600, 'y');
    std::string req = "POST /b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) req += "258\r\n" + chunk + "\r\n";  // 0x258 = 600
    req += "0\r\n\r\n";
    c.send(req);
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(r->body == expected_error);
    CHECK(c.wait_closed());
  }
  SECTION("a body longer than its Content-Length: the rest is a (bad) next request") {
    raw_client c(s.port);
    REQUIRE(
        c.send("POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n0123456789 junk\r\n\r\n"));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(json::parse(r->body)["body"] == "01234");
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(c.wait_closed());
  }
}

TEST_CASE("http server: malformed requests get 400 and the server keeps serving", "[http]") {
  std::atomic<int> calls{0};
  running_server s(test_settings(), [&calls](io::http_request req, io::http_responder r) {
    ++calls;
    echo(std::move(req), std::move(r));
  });

  for (std::string garbage : {
           std::string("GARBAGE\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nBad Header Line\r\n\r\n"),
           std::string("GET / HTTP/9.9\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
           std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15),
       }) {
    INFO(garbage);
    raw_client c(s.port);
    c.send(garbage);
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(json::parse(r->body)["error"].get<std::string>().rfind("malformed request", 0) == 0);
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());
  }
  CHECK(calls == 0);

  SECTION("a header block over the limit gets 431") {
    raw_client c(s.port);
    c.send(get("/", "X-Big: " + std::string(20000, 'h') + "\r\n"));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 431);
    CHECK(c.wait_closed());
  }
  SECTION("random bytes: an error answer or a close, never a crash") {
    std::mt19937 rng(1234);
    for (int i = 0; i < 200; ++i) {
      std::string junk(1 + rng() % 300, '\0');
      for (auto& ch : junk) ch = static_cast<char>(rng() % 256);
      if (i % 2 == 0) junk = "GET /" + junk;  // a plausible start, broken later
      junk += "\r\n\r\n";
      raw_client c(s.port);
      c.send(junk);
      c.shutdown_write();
      REQUIRE(c.wait_closed());
      if (!c.buffered().empty()) {
        INFO(c.buffered());
        CHECK(c.buffered().rfind("HTTP/1.1 4", 0) == 0);
      }
    }
  }
  raw_client c(s.port);
  REQUIRE(c.send(get("/still-alive")));
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("http server: slow requests are cut off after header_timeout", "[http]") {
  auto settings = test_settings();
  settings.header_timeout = 1s;
  running_server s(settings, echo);

  // One byte per 200 ms; the pacing wait doubles as the check for the server's answer.
  auto slow_send = [&](const std::string& prefix) {
    raw_client c(s.port);
    REQUIRE(c.send(prefix));
    auto start = steady::now();
    while (!c.closed() && seconds_since(start) < 10) {
      if (!c.send("a")) break;
      c.fill(200ms);
    }
    c.wait_closed(5s);
    double elapsed = seconds_since(start);
    CHECK(c.closed());
    CHECK(elapsed >= 0.8);
    CHECK(elapsed <= 1.0 + 2.5);
    if (!c.buffered().empty()) CHECK(c.buffered().rfind("HTTP/1.1 408 ", 0) == 0);
  };
  SECTION("headers trickling in") { slow_send("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: "); }
  SECTION("a body trickling in") {
    slow_send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
  }
  SECTION("a connection that never sends") {
    raw_client c(s.port);
    auto start = steady::now();
    CHECK(c.wait_closed(10s));
    CHECK(seconds_since(start) <= 1.0 + 2.5);
  }
}

TEST_CASE("http server: idle keep-alive connections are closed after idle_timeout", "[http]") {
  auto settings = test_settings();
  settings.idle_timeout = 500ms;
  running_server s(settings, echo);
  raw_client c(s.port);
  REQUIRE(c.send(get("/once")));
  REQUIRE(c.read_response());
  auto start = steady::now();
  CHECK(c.wait_closed(10s));
  double elapsed = seconds_since(start);
  CHECK(elapsed >= 0.4);
  CHECK(elapsed <= 0.5 + 2.5);
}

TEST_CASE("http server: a handler that never answers gets 503 after response_timeout", "[http]") {
  auto settings = test_settings();
  settings.response_timeout = 300ms;
  auto held = std::make_shared<parked>();
  running_server s(settings, park_never_echo_rest(held));
  raw_client c(s.port);
  auto start = steady::now();
  REQUIRE(c.send(get("/never")));
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(r->body == R"({"error":"timed out"})");
  CHECK(seconds_since(start) >= 0.25);
  CHECK(r->header("connection") == "keep-alive");

  // The late answer, twice, is dropped; the connection goes on with the next request.
  REQUIRE(held->wait_count(1));
  held->items[0].second(text("late"));
  held->items[0].second(text("later"));
  REQUIRE(c.send(get("/next")));
  r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body)["path"] == "/next");
}

TEST_CASE("http server: responders may answer later from another thread", "[http]") {
  // A worker thread answers what the handler queued, like an actor would.
  struct worker_state {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<std::pair<std::string, io::http_responder>> queue;
    bool done = false;
    std::thread::id handler_thread;
  };
  auto state = std::make_shared<worker_state>();
  std::thread worker([state] {
    std::unique_lock<std::mutex> lock(state->mutex);
    for (;;) {
      state->cv.wait(lock, [&] { return state->done || !state->queue.empty(); });
      if (state->queue.empty()) return;
      auto item = std::move(state->queue.front());
      state->queue.erase(state->queue.begin());
      lock.unlock();
      item.second(text("answered " + item.first));
      item.second(text("twice"));  // harmless
      lock.lock();
    }
  });
  auto stop_worker = [&] {
    {
      std::lock_guard<std::mutex> lock(state->mutex);
      state->done = true;
    }
    state->cv.notify_all();
    if (worker.joinable()) worker.join();
  };

  auto held = std::make_shared<parked>();
  {
    running_server s(test_settings(), [state, held](io::http_request req, io::http_responder r) {
      if (req.path == "/park") {
        held->add(req.path, std::move(r));
        return;
      }
      std::lock_guard<std::mutex> lock(state->mutex);
      state->handler_thread = std::this_thread::get_id();
      state->queue.emplace_back(req.path, std::move(r));
      state->cv.notify_all();
    });
    raw_client c(s.port);
    for (int i = 0; i < 20; ++i) {
      REQUIRE(c.send(get("/w/" + std::to_string(i))));
      auto r = c.read_response();
      REQUIRE(r);
      CHECK(r->body == "answered /w/" + std::to_string(i));
    }
    CHECK(state->handler_thread != worker.get_id());

    // Answered after the client went away: dropped, the server goes on.
    {
      raw_client gone(s.port);
      REQUIRE(gone.send(get("/park")));
      REQUIRE(held->wait_count(1));
    }
    held->items[0].second(text("nobody listens"));
    raw_client again(s.port);
    REQUIRE(again.send(get("/w/again")));
    auto r = again.read_response();
    REQUIRE(r);
    CHECK(r->body == "answered /w/again");

    // Parked again, answered only after the server is gone.
    raw_client last(s.port);
    REQUIRE(last.send(get("/park")));
    REQUIRE(held->wait_count(2));
  }
  held->items[1].second(text("after the server"));
  stop_worker();
}

TEST_CASE("http server: CORS", "[http]") {
  std::atomic<int> calls{0};
  auto settings = test_settings();
  settings.cors_origins = {"http://allowed.example"};
  auto handler = [&calls](io::http_request req, io::http_responder r) {
    ++calls;
    echo(std::move(req), std::move(r));
  };

  SECTION("listed origins") {
    running_server s(settings, handler);
    raw_client c(s.port);
    REQUIRE(c.send(get("/x", "Origin: http://allowed.example\r\n")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->header("access-control-allow-origin") == "http://allowed.example");
    CHECK(r->header("access-control-allow-credentials") == "true");
    CHECK(r->header("vary") == "Origin");

    REQUIRE(c.send(get("/x", "Origin: http://evil.example\r\n")));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->header("access-control-allow-origin").empty());
    CHECK(r->header("access-control-allow-credentials").empty());

    REQUIRE(c.send(get("/x")));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->header("access-control-allow-origin").empty());
    CHECK(calls == 3);

    // Preflight: answered by the server, the handler is not called.
    REQUIRE(
        c.send("OPTIONS /v1/api/orchestrations/Thing/orchestrate HTTP/1.1\r\nHost: t\r\n"
               "Origin: http://allowed.example\r\nAccess-Control-Request-Method: POST\r\n"
               "Access-Control-Request-Headers: X-Custom, Content-Type\r\n\r\n"));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 204);
    CHECK(r->header("access-control-allow-origin") == "http://allowed.example");
    CHECK(r->header("access-control-allow-methods") == "GET, POST, OPTIONS");
    CHECK(r->header("access-control-allow-headers") == "X-Custom, Content-Type");
    CHECK(r->header("access-control-allow-credentials") == "true");
    CHECK(r->header("content-length").empty());

    REQUIRE(
        c.send("OPTIONS /x HTTP/1.1\r\nHost: t\r\nOrigin: http://allowed.example\r\n"
               "Access-Control-Request-Method: POST\r\n\r\n"));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 204);
    CHECK(r->header("access-control-allow-headers") == "Content-Type");

    REQUIRE(
        c.send("OPTIONS /x HTTP/1.1\r\nHost: t\r\nOrigin: http://evil.example\r\n"
               "Access-Control-Request-Method: POST\r\n\r\n"));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 204);
    CHECK(r->header("access-control-allow-origin").empty());
    CHECK(r->header("access-control-allow-methods").empty());
    CHECK(calls == 3);
  }
  SECTION("\"*\" echoes any origin") {
    settings.cors_origins = {"*"};
    running_server s(settings, handler);
    raw_client c(s.port);
    REQUIRE(c.send(get("/x", "Origin: https://anything.example:8443\r\n")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->header("access-control-allow-origin") == "https://anything.example:8443");
    CHECK(r->header("vary") == "Origin");
  }
  SECTION("no cors_origins: no CORS headers") {
    settings.cors_origins.clear();
    running_server s(settings, handler);
    raw_client c(s.port);
    REQUIRE(c.send(get("/x", "Origin: http://allowed.example\r\n")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->header("access-control-allow-origin").empty());
  }
}

TEST_CASE("serve_static serves files under root and nothing else", "[http][static]") {
  temp_dir outside;
  fs::path root = outside.path / "www";
  write_file(root / "index.html", "<h1>dash</h1>");
  write_file(root / "app.js", "console.log(1)");
  write_file(root / "style.css", "body{}");
  write_file(root / "data.json", "{}");
  write_file(root / "icon.svg", "<svg/>");
  write_file(root / "logo.png", std::string("\x89PNG\r\n", 6));
  write_file(root / "favicon.ico", "ico");
  write_file(root / "sub" / "page.html", "sub page");
  write_file(root / ".hidden", "secret");
  write_file(outside.path / "secret.txt", "top secret");
  fs::create_symlink(outside.path / "secret.txt", root / "link-out");
  fs::create_directory_symlink(outside.path, root / "dir-out");
  fs::create_symlink(root / "app.js", root / "link-in.js");
  const std::string r = root.string();

  SECTION("happy path") {
    auto index = io::serve_static(r, "/");
    REQUIRE(index);
    CHECK(index->status == 200);
    CHECK(index->body == "<h1>dash</h1>");
    CHECK(index->content_type.rfind("text/html", 0) == 0);
    std::map<std::string, std::string> types = {
        {"/index.html", "text/html"},      {"/app.js", "text/javascript"},
        {"/style.css", "text/css"},        {"/data.json", "application/json"},
        {"/icon.svg", "image/svg+xml"},    {"/logo.png", "image/png"},
        {"/favicon.ico", "image/x-icon"},  {"/sub/page.html", "text/html"},
        {"/link-in.js", "text/javascript"}};
    for (const auto& [path, type] : types) {
      INFO(path);
      auto f = io::serve_static(r, path);
      REQUIRE(f);
      CHECK(f->content_type.rfind(type, 0) == 0);
    }
    CHECK(io::serve_static(r, "/logo.png")->body == std::string("\x89PNG\r\n", 6));
    CHECK_FALSE(io::serve_static(r, "/sub/"));  // no sub/index.html
    CHECK_FALSE(io::serve_static(r, "/sub"));
    CHECK_FALSE(io::serve_static(r, "/missing.html"));
  }
  SECTION("traversal and escapes are refused") {
    for (std::string path :
         {"/../secret.txt", "/../etc/passwd", "/%2e%2e/", "/%2e%2e/secret.txt", "/..%2f",
          "/..%2fsecret.txt", "/%2E%2E%2Fsecret.txt", "/sub/../../secret.txt", "/sub/..",
          "/link-out", "/dir-out/secret.txt", "/.hidden", "\\..\\secret.txt", "/..\\secret.txt",
          "//etc/passwd", "etc/passwd", "", "/etc/passwd"}) {
      INFO(path);
      CHECK_FALSE(io::serve_static(r, path));
    }
    CHECK_FALSE(io::serve_static(r, std::string("/index.html\0.png", 16)));
    CHECK_FALSE(io::serve_static((root / "missing").string(), "/index.html"));
  }
  SECTION("through the server, which decodes the path first") {
    running_server s(test_settings(), [r](io::http_request req, io::http_responder respond) {
      auto file = io::serve_static(r, req.path);
      respond(file ? *file : io::json_error(404, "not found"));
    });
    raw_client c(s.port);
    REQUIRE(c.send(get("/")));
    auto res = c.read_response();
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body == "<h1>dash</h1>");
    for (std::string target :
         {"/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt",
          "/sub/%2e%2e/%2e%2e/secret.txt", "/link-out", "/%00", "/dir-out/secret.txt"}) {
      INFO(target);
      REQUIRE(c.send(get(target)));
      res = c.read_response();
      REQUIRE(res);
      CHECK(res->status == 404);
      CHECK(res->body.find("secret") == std::string::npos);
    }
  }
}

TEST_CASE("json_error escapes its text", "[http]") {
  auto e = io::json_error(404, "unknown resource \"Th\\ing\"\n\x01 end");
  CHECK(e.status == 404);
  CHECK(e.content_type == "application/json");
  CHECK(json::parse(e.body)["error"] == "unknown resource \"Th\\ing\"\n\x01 end");
  auto bad_utf8 = io::json_error(400, std::string("bad \xff\xfe byte"));
  CHECK(json::parse(bad_utf8.body)["error"].get<std::string>().rfind("bad ", 0) == 0);
}

TEST_CASE("http server: a handler that throws gets 500", "[http]") {
  running_server s(test_settings(),
                   [](io::http_request, io::http_responder) { throw std::runtime_error("boom"); });
  raw_client c(s.port);
  REQUIRE(c.send(get("/throw")));
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 500);
  REQUIRE(c.send(get("/throw")));
  CHECK(c.read_response());
}

TEST_CASE("http server: 1,000 requests over 50 concurrent keep-alive connections", "[http]") {
  running_server s(test_settings(), echo);
  constexpr int clients = 50;
  constexpr int per_client = 20;
  std::atomic<int> good{0};
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      raw_client c(s.port);
      for (int i = 0; i < per_client; ++i) {
        std::string path = "/c/" + std::to_string(t) + "/" + std::to_string(i);
        std::string body = "payload-" + std::to_string(t * 1000 + i);
        if (!c.send(i % 2 ? post(path, body) : get(path))) {
          ++bad;
          return;
        }
        auto r = c.read_response();
        if (!r || r->status != 200) {
          ++bad;
          return;
        }
        auto j = json::parse(r->body, nullptr, false);
        if (!j.is_discarded() && j["path"] == path && j["body"] == (i % 2 ? body : "")) {
          ++good;
        } else {
          ++bad;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(bad == 0);
  CHECK(good == clients * per_client);
}

TEST_CASE("http server: connections over max_connections are closed at once", "[http]") {
  auto settings = test_settings();
  settings.max_connections = 3;
  running_server s(settings, echo);
  std::vector<std::unique_ptr<raw_client>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<raw_client>(s.port));
    REQUIRE(open.back()->send(get("/hold")));
    REQUIRE(open.back()->read_response());
  }
  {
    raw_client extra(s.port);
    extra.send(get("/extra"));
    CHECK(extra.wait_closed(5s));
    CHECK(extra.buffered().empty());
  }
  open.pop_back();  // frees a place once the server has seen the close
  bool served = false;
  auto until = steady::now() + deadline;
  while (!served && steady::now() < until) {
    raw_client again(s.port);
    again.send(get("/again"));
    auto r = again.read_response(5s);
    served = r && r->status == 200;
  }
  CHECK(served);
  for (auto& c : open) {
    REQUIRE(c->send(get("/still")));
    CHECK(c->read_response());
  }
}

TEST_CASE("http server: stop() returns promptly with open connections", "[http]") {
  auto settings = test_settings();
  settings.idle_timeout = 60s;
  settings.header_timeout = 60s;
  settings.response_timeout = 60s;
  auto held = std::make_shared<parked>();
  running_server s(settings, park_never_echo_rest(held));
  std::vector<std::unique_ptr<raw_client>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<raw_client>(s.port));
    REQUIRE(clients.back()->send(get("/idle")));
    REQUIRE(clients.back()->read_response());
  }
  clients.push_back(std::make_unique<raw_client>(s.port));
  REQUIRE(clients.back()->send(get("/never")));
  REQUIRE(held->wait_count(1));
  clients.push_back(std::make_unique<raw_client>(s.port));
  REQUIRE(clients.back()->send("GET /half HTTP/1.1\r\nHost: t\r\n"));

  auto start = steady::now();
  s.server->stop();
  CHECK(seconds_since(start) < 2.0);
  for (auto& c : clients) CHECK(c->wait_closed(5s));
  held->items[0].second(text("after stop"));  // harmless
  s.server->stop();                           // twice is fine
  raw_client refused(s.port);
  CHECK((!refused.connected() || refused.wait_closed(5s)));
}

TEST_CASE("http server: start reports listen errors", "[http]") {
  running_server first(test_settings(), echo);
  auto settings = test_settings();
  settings.listen = "127.0.0.1:" + std::to_string(first.port);
  auto second = io::make_http_server(settings, echo);
  std::string error;
  CHECK_FALSE(second->start(error));
  CHECK_FALSE(error.empty());

  settings.listen = "no-port-here";
  auto third = io::make_http_server(settings, echo);
  error.clear();
  CHECK_FALSE(third->start(error));
  CHECK_FALSE(error.empty());
}
