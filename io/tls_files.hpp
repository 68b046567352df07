#pragma once
// The HTTPS certificate chain and private key as files (SPEC 15): loaded into a TLS server
// context, and loaded again when either file changes, so a renewed certificate (a Secret
// update) is served without a restart. Boost and OpenSSL stay inside the iota_http target.
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace iota::io {

class tls_files {
 public:
  // `on_event` hears of a reload and of a pair that did not load (may be empty).
  tls_files(std::string cert, std::string key, std::function<void(const std::string&)> on_event);

  // Loads the pair now; false with `error` naming the file when it cannot be used.
  bool load(std::string& error);

  // The context for a new connection: looked at again at most once a second, reloaded when a
  // file changed; a pair that does not load leaves the one before in force (reported once).
  // Not thread-safe: call from one strand.
  std::shared_ptr<boost::asio::ssl::context> current();

 private:
  std::shared_ptr<boost::asio::ssl::context> make(std::string& error) const;
  std::string stamp() const;  // modification times and sizes: a change means "reload"

  std::string cert_;
  std::string key_;
  std::function<void(const std::string&)> on_event_;
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::string stamp_;
  std::chrono::steady_clock::time_point checked_at_;
};

}  // namespace iota::io
