#include "io/tls_files.hpp"

#include "io/file_stamp.hpp"

namespace iota::io {

namespace ssl = boost::asio::ssl;

tls_files::tls_files(std::string cert, std::string key, std::function<void(const std::string&)> on_event)
    : cert_(std::move(cert)), key_(std::move(key)), on_event_(std::move(on_event)) {}

std::shared_ptr<ssl::context> tls_files::make(std::string& error) const {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(cert_, ec);
  if (ec) {
    error = "http.tls.cert: cannot use " + cert_ + ": " + ec.message();
    return nullptr;
  }
  ctx->use_private_key_file(key_, ssl::context::pem, ec);
  if (ec) {
    error = "http.tls.key: cannot use " + key_ + ": " + ec.message();
    return nullptr;
  }
  return ctx;
}

std::string tls_files::stamp() const { return file_stamp(cert_) + ";" + file_stamp(key_); }

bool tls_files::load(std::string& error) {
  stamp_ = stamp();
  context_ = make(error);
  checked_at_ = std::chrono::steady_clock::now();
  return context_ != nullptr;
}

std::shared_ptr<ssl::context> tls_files::current() {
  auto now = std::chrono::steady_clock::now();
  if (now - checked_at_ < std::chrono::seconds{1})
    return context_;
  checked_at_ = now;
  auto seen = stamp();
  if (seen == stamp_)
    return context_;
  stamp_ = seen;  // a broken pair is reported once, not on every connection
  std::string error;
  if (auto fresh = make(error)) {
    context_ = std::move(fresh);
    if (on_event_)
      on_event_("TLS certificate and key re-read");
  } else if (on_event_) {
    on_event_(error + "; keeping the certificate loaded before");
  }
  return context_;
}

}  // namespace iota::io
