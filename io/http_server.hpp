#pragma once
// HTTP/1.1 server on Boost.Beast (Asio) with its own io threads (SPEC sections 7 and 11).
// The handler runs on an io thread and must not block: it answers through the responder,
// which may be called later from any thread, exactly once.
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/http_message.hpp"

namespace iota::io {

using model::http_request;
using model::http_response;

using http_responder = std::function<void(http_response)>;
using http_handler = std::function<void(http_request, http_responder)>;

struct http_server_settings {
  std::string listen = "127.0.0.1:8080";          // ADDR:PORT; port 0 = any free port
  std::size_t body_limit = 65536;                 // larger bodies: 413 with a JSON error
  std::chrono::milliseconds header_timeout{10000};  // whole request must arrive in this time (408)
  std::chrono::milliseconds idle_timeout{60000};    // keep-alive connection idle limit
  std::chrono::milliseconds response_timeout{15000};  // handler never answered: 503
  std::vector<std::string> cors_origins;          // allowed Origins; "*" allows any (echoed back)
  std::size_t threads = 1;
  std::size_t max_connections = 1024;
  // HTTPS when set: PEM certificate chain and private key, re-read when they change.
  std::string tls_cert;
  std::string tls_key;
  // What the server has to say (a re-read certificate, one that failed); may be empty.
  std::function<void(const std::string&)> on_event;
};

class http_server {
 public:
  virtual ~http_server() = default;
  // Binds and starts serving; false with `error` set when it cannot bind.
  virtual bool start(std::string& error) = 0;
  virtual int port() const = 0;  // the bound port (useful with port 0)
  // Stops accepting, closes connections, joins the io threads.
  virtual void stop() = 0;
};

std::unique_ptr<http_server> make_http_server(http_server_settings settings, http_handler handler);

using model::json_error;

}  // namespace iota::io
