#include "io/http_auth.hpp"

#include "io/file_stamp.hpp"
#include "io/files.hpp"
#include "io/log.hpp"

namespace iota::io {

namespace {

constexpr auto recheck_period = std::chrono::seconds{1};  // stat the tokens file at most this often
constexpr auto refusal_log_period = std::chrono::seconds{10};  // a flood of refusals: one line a period
constexpr const char* component = "http_auth";

model::http_response refusal(int status, const std::string& text) {
  auto r = model::json_error(status, text);
  if (status == 401)
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

}  // namespace

http_auth::http_auth(http_auth_settings settings) : settings_(std::move(settings)) {}

std::shared_ptr<http_auth> http_auth::make(http_auth_settings settings, std::string& error) {
  std::shared_ptr<http_auth> auth(new http_auth(std::move(settings)));
  if (!auth->settings_.tokens_file.empty()) {
    std::lock_guard<std::mutex> lock(auth->mutex_);
    if (!auth->reload(error))
      return nullptr;
  }
  return auth;
}

bool http_auth::reload(std::string& error) {
  const auto& path = settings_.tokens_file;
  stamp_ = file_stamp(path);  // a pair that fails is reported once, not on every look
  auto text = read_file(path);
  if (!text) {
    error = "http.tokensFile: cannot read " + path;
    return false;
  }
  auto parsed = model::parse_tokens_file(*text);
  if (parsed.empty()) {
    error = "http.tokensFile: no token in " + path + " (one per line; '#' starts a comment)";
    return false;
  }
  tokens_ = std::make_shared<const std::vector<model::bearer_token>>(std::move(parsed));
  return true;
}

std::shared_ptr<const std::vector<model::bearer_token>> http_auth::tokens() {
  std::lock_guard<std::mutex> lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (now - checked_at_ >= recheck_period) {
    checked_at_ = now;
    auto seen = file_stamp(settings_.tokens_file);
    if (!seen.empty() && seen != stamp_) {
      std::string error;
      if (reload(error))
        log::info(component, "tokens file " + settings_.tokens_file + " re-read: " +
                               std::to_string(tokens_->size()) + " tokens");
      else
        log::warn(component, error + "; keeping the " + std::to_string(tokens_->size()) + " tokens read before");
    } else if (seen.empty() && !stamp_.empty()) {
      stamp_.clear();  // warn once; the tokens read before stay in force
      log::warn(component, "tokens file " + settings_.tokens_file + " is gone; keeping the tokens read before");
    }
  }
  return tokens_;
}

std::optional<model::http_response> http_auth::check(const model::http_request& request, std::string& who) {
  who = "anonymous";
  if (settings_.tokens_file.empty()) {
    if (model::is_write(request.method))
      accepted_writes_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  auto known = tokens();
  auto d = model::authorize(request.method, request.path, request.header("authorization"), *known,
                            settings_.protect_reads);
  switch (d.outcome) {
    case model::auth_outcome::open:
      return std::nullopt;
    case model::auth_outcome::accepted:
      who = "token " + d.token_name;
      if (model::is_write(request.method))
        accepted_writes_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    case model::auth_outcome::missing:
    case model::auth_outcome::unknown:
      break;
  }
  bool missing = d.outcome == model::auth_outcome::missing;
  (missing ? refused_missing_ : refused_unknown_).fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++refusals_unlogged_;
    auto now = std::chrono::steady_clock::now();
    if (now - refusal_logged_at_ >= refusal_log_period) {
      log::warn(component, "refused " + request.method + " " + request.path + " from " +
                             (request.peer.empty() ? std::string{"?"} : request.peer) + ": " +
                             (missing ? "no bearer token" : "unknown token") +
                             (refusals_unlogged_ > 1 ? " (" + std::to_string(refusals_unlogged_) +
                                                         " refusals since the last such line)"
                                                     : std::string{}));
      refusal_logged_at_ = now;
      refusals_unlogged_ = 0;
    }
  }
  return missing ? refusal(401, "this request needs a bearer token (Authorization: Bearer <token>)")
                 : refusal(403, "unknown bearer token");
}

}  // namespace iota::io
