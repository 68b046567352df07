#pragma once
// The REST API's gate (SPEC 15), run on the HTTP server's io thread before a request reaches
// any actor: bearer tokens from a file that is re-read when it changes, refusals answered at
// once (401 / 403) and counted, every accepted write logged with the token's name and the peer.
// Tokens never reach a log: a token is named by its line in the file.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "model/bearer_auth.hpp"
#include "model/http_message.hpp"

namespace iota::io {

struct http_auth_settings {
  std::string tokens_file;     // "" = no tokens: every request is open
  bool protect_reads = false;  // reads and /metrics need a token too
};

class http_auth {
 public:
  // Reads the tokens file now; nullptr with `error` set when it cannot be read or holds no token.
  static std::shared_ptr<http_auth> make(http_auth_settings settings, std::string& error);

  // nullopt: let the request through (`who` names the token, or "anonymous"); otherwise the
  // refusal to answer with. Thread-safe.
  std::optional<model::http_response> check(const model::http_request& request, std::string& who);

  std::uint64_t refused() const { return refused_missing_ + refused_unknown_; }
  std::uint64_t refused_missing() const { return refused_missing_; }
  std::uint64_t refused_unknown() const { return refused_unknown_; }
  std::uint64_t accepted_writes() const { return accepted_writes_; }

 private:
  explicit http_auth(http_auth_settings settings);
  bool reload(std::string& error);  // under mutex_
  std::shared_ptr<const std::vector<model::bearer_token>> tokens();

  http_auth_settings settings_;
  std::mutex mutex_;
  std::shared_ptr<const std::vector<model::bearer_token>> tokens_;
  std::chrono::steady_clock::time_point checked_at_;
  std::string stamp_;  // io/file_stamp of the tokens file last read ("" once it is gone)
  std::chrono::steady_clock::time_point refusal_logged_at_;
  std::uint64_t refusals_unlogged_ = 0;
  std::atomic<std::uint64_t> refused_missing_{0};
  std::atomic<std::uint64_t> refused_unknown_{0};
  std::atomic<std::uint64_t> accepted_writes_{0};
};

}  // namespace iota::io
