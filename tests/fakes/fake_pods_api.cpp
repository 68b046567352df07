// The fake pods API of fake_pods_api.hpp on Boost.Beast + Asio (+ OpenSSL for TLS).
//
// State (pods, history, counters) lives under `mutex`, so test-side methods work from any
// thread; sockets are touched on the io thread only. A change appends to the history and
// posts the event line to every matching watch session while the mutex is held, so the
// posts, and therefore the lines on each stream, keep resourceVersion order; a watch that
// starts registers and replays the history in one critical section, so none is lost or
// doubled.
#include "fakes/fake_pods_api.hpp"
#include "io/beast_net.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace iota::test {

namespace {

using namespace iota::io::beast_net;  // asio, beast, http, ssl, tcp, error_code
using json = nlohmann::json;

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// A self-signed certificate for localhost / 127.0.0.1: {certificate PEM, key PEM}.
std::pair<std::string, std::string> make_self_signed() {
  auto fail = [](const char* what) { throw std::runtime_error(std::string("openssl: ") + what); };
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) fail("EC key generation");
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!cert) fail("X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair<int, const char*>{NID_subject_alt_name,
                                                        "DNS:localhost,IP:127.0.0.1"},
                            {NID_basic_constraints, "critical,CA:TRUE"},
                            {NID_key_usage, "critical,digitalSignature,keyCertSign"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (ext == nullptr) fail("extension");
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) fail("X509_sign");
  auto pem = [&](auto write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    if (!bio || write(bio.get()) != 1) fail("PEM");
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
  };
  return {pem([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); }),
          pem([&](BIO* b) {
            return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
          })};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 &&
        hex_value(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i] == '+' ? ' ' : in[i]);
    }
  }
  return out;
}

void split_target(const std::string& target, std::string& path,
                  std::map<std::string, std::string>& query) {
  auto q = target.find('?');
  path = decode(target.substr(0, q));
  if (q == std::string::npos) return;
  std::string_view rest(target);
  rest.remove_prefix(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    auto eq = part.find('=');
    query[decode(part.substr(0, eq))] =
        eq == std::string_view::npos ? std::string() : decode(part.substr(eq + 1));
  }
}

// labelSelector: comma-separated "key" (exists) or "key=value" terms.
bool selector_matches(const std::string& selector, const json& pod) {
  if (selector.empty()) return true;
  json labels = json::object();
  if (pod.contains("metadata") && pod["metadata"].contains("labels") &&
      pod["metadata"]["labels"].is_object()) {
    labels = pod["metadata"]["labels"];
  }
  std::size_t begin = 0;
  while (begin <= selector.size()) {
    auto comma = selector.find(',', begin);
    if (comma == std::string::npos) comma = selector.size();
    std::string term = selector.substr(begin, comma - begin);
    begin = comma + 1;
    if (term.empty()) continue;
    auto eq = term.find('=');
    std::string key = term.substr(0, eq);
    auto it = labels.find(key);
    if (it == labels.end()) return false;
    if (eq != std::string::npos) {
      std::string want = term.substr(eq + 1);
      if (!want.empty() && want.front() == '=') want.erase(0, 1);  // "=="
      if (!it->is_string() || it->get<std::string>() != want) return false;
    }
  }
  return true;
}

// `resource` and `group` name the details' kind (the plural) and group, as the API does.
json status_json(int code, const std::string& reason, const std::string& message,
                 const std::string& name = {}, const std::string& resource = "pods",
                 const std::string& group = {}) {
  json s = {{"kind", "Status"},     {"apiVersion", "v1"}, {"metadata", json::object()},
            {"status", "Failure"},  {"message", message}, {"reason", reason},
            {"code", code}};
  if (!name.empty()) {
    s["details"] = {{"name", name}, {"kind", resource}};
    if (!group.empty()) s["details"]["group"] = group;
  }
  return s;
}

std::string group_version(const api_resource& r) {
  return r.group.empty() ? r.version : r.group + "/" + r.version;
}

// GET /api/v1 or /apis/<group>/<version>.
json resource_list(const std::string& group, const std::string& version) {
  json list = {{"kind", "APIResourceList"},
               {"apiVersion", "v1"},
               {"groupVersion", group.empty() ? version : group + "/" + version},
               {"resources", json::array()}};
  for (const auto& r : discovery_resources()) {
    if (r.group != group || r.version != version) continue;
    json verbs = {"create", "delete", "deletecollection", "get", "list", "patch", "update",
                  "watch"};
    if (r.name == "namespaces") verbs.erase(2);  // no deletecollection
    json entry = {{"name", r.name},           {"singularName", r.singular},
                  {"namespaced", r.namespaced}, {"kind", r.kind},
                  {"verbs", verbs}};
    if (!r.short_names.empty()) entry["shortNames"] = r.short_names;
    list["resources"].push_back(std::move(entry));
  }
  return list;
}

// GET /apis: every group but the core one, in the order of discovery_resources().
json group_list() {
  json groups = json::array();
  std::vector<std::string> seen;
  for (const auto& r : discovery_resources()) {
    auto gv = group_version(r);
    if (r.group.empty() || std::find(seen.begin(), seen.end(), gv) != seen.end()) continue;
    seen.push_back(gv);
    json v = {{"groupVersion", gv}, {"version", r.version}};
    groups.push_back({{"name", r.group}, {"versions", json::array({v})}, {"preferredVersion", v}});
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

const api_resource* find_resource(const std::string& group, const std::string& version,
                                  const std::string& name) {
  for (const auto& r : discovery_resources()) {
    if (r.group == group && r.version == version && r.name == name) return &r;
  }
  return nullptr;
}

std::vector<std::string> path_segments(const std::string& path) {
  std::vector<std::string> out;
  std::size_t begin = 0;
  while (begin < path.size()) {
    auto slash = path.find('/', begin);
    if (slash == std::string::npos) slash = path.size();
    if (slash > begin) out.push_back(path.substr(begin, slash - begin));
    begin = slash + 1;
  }
  return out;
}

std::string reason_for(int code) {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "AlreadyExists";
    case 410: return "Expired";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 503: return "ServiceUnavailable";
    default: return code >= 500 ? "InternalError" : "Unknown";
  }
}

std::string http_head(int code, std::string_view extra,
                      std::string_view content_type = "application/json") {
  auto reason = http::obsolete_reason(static_cast<http::status>(code));
  std::string out = "HTTP/1.1 " + std::to_string(code) + " ";
  out.append(reason.data(), reason.size());
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\n";
  out += extra;
  return out;
}

std::string chunk(const std::string& data) {
  char size[20];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

class session_base : public std::enable_shared_from_this<session_base> {
 public:
  virtual ~session_base() = default;
  virtual void close() = 0;  // io thread
  // Moves `pending` to the socket, in order (io thread). Posting the event lines themselves
  // could reorder them: a post from the io thread waits in Asio's thread-private queue until
  // the handler returns, behind a post from another thread made meanwhile.
  virtual void flush() = 0;
  std::atomic<bool> closed{false};
  // Watch sessions only, under the fake's mutex.
  std::string watch_ns;
  std::string watch_selector;
  std::deque<std::pair<std::string, bool>> pending;  // bytes, close after them
};

}  // namespace

struct fake_pods_api::impl {
  struct pod_entry {
    json object;
    bool terminating = false;
    std::uint64_t uid = 0;
  };
  struct event {
    std::uint64_t rv;
    std::string ns;
    std::string type;
    json object;
  };

  fake_pods_api_options options;
  mutable std::mutex mutex;
  std::map<std::string, pod_entry> pods;  // "<ns>/<name>"
  std::uint64_t rv = 1000;
  std::uint64_t compacted = 0;  // a watch from a resourceVersion older than this: 410
  std::uint64_t next_uid = 1;
  std::vector<event> history;
  std::map<std::string, std::vector<json>> core_events;  // "<ns>": the Events posted, in order
  std::vector<std::weak_ptr<session_base>> watchers;
  std::vector<std::weak_ptr<session_base>> sessions;
  std::string token;
  std::map<std::string, int> fail_next;
  std::map<std::string, std::size_t> counts;
  std::vector<recorded_request> log;
  std::string cert_pem;
  std::string key_pem;
  bool stopped = false;

  asio::io_context ioc{1};
  ssl::context ssl_ctx{ssl::context::tls_server};
  tcp::acceptor acceptor{ioc};
  int port = 0;
  std::thread thread;

  static std::string key_of(const std::string& ns, const std::string& name) {
    return ns + "/" + name;
  }

  // Under `mutex`.
  void emit(const std::string& type, const std::string& ns, const json& object) {
    history.push_back(event{rv, ns, type, object});
    std::string line = json{{"type", type}, {"object", object}}.dump() + "\n";
    for (auto it = watchers.begin(); it != watchers.end();) {
      auto w = it->lock();
      if (!w || w->closed) {
        it = watchers.erase(it);
        continue;
      }
      if (w->watch_ns == ns && selector_matches(w->watch_selector, object)) {
        w->pending.emplace_back(chunk(line), false);
        asio::post(ioc, [w] { w->flush(); });
      }
      ++it;
    }
  }

  // Under `mutex`.
  json& bump(pod_entry& entry) {
    entry.object["metadata"]["resourceVersion"] = std::to_string(++rv);
    return entry.object;
  }

  // Under `mutex`.
  void erase_pod(const std::string& ns, const std::string& name) {
    auto it = pods.find(key_of(ns, name));
    if (it == pods.end()) return;
    json object = std::move(it->second.object);
    pods.erase(it);
    object["metadata"]["resourceVersion"] = std::to_string(++rv);
    emit("DELETED", ns, object);
  }

  void start() {
    if (options.tls) {
      auto [cert, key] = make_self_signed();
      cert_pem = cert;
      key_pem = key;
      ssl_ctx.use_certificate_chain(asio::buffer(cert_pem));
      ssl_ctx.use_private_key(asio::buffer(key_pem), ssl::context::pem);
    }
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen();
    port = acceptor.local_endpoint().port();
    do_accept();
    thread = std::thread([this] { ioc.run(); });
  }

  void do_accept();

  // Runs `f` on the io thread and waits for it.
  template <class F>
  void on_io(F&& f) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (stopped) return;
    }
    std::promise<void> done;
    auto future = done.get_future();
    asio::post(ioc, [&] {
      f();
      done.set_value();
    });
    future.wait();
  }

  // ---- request handling (io thread) ----

  struct answer {
    int status = 200;
    std::string body;
    bool watch = false;  // the response is in the session's `pending`
    std::string content_type = "application/json";
  };

  answer error(int code, const std::string& message, const std::string& name = {}) {
    return {code, status_json(code, reason_for(code), message, name).dump(), false};
  }

  answer handle(const recorded_request& req, const std::shared_ptr<session_base>& session);
  // Discovery and the objects of the other resources (fake_pods_api.hpp). Under `mutex`.
  answer other_paths(const recorded_request& req);
};

namespace {

template <class Stream>
class session final : public session_base {
 public:
  session(fake_pods_api::impl& f, Stream stream) : f_(f), stream_(std::move(stream)) {}

  void start() {
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      auto self = shared();
      stream_.async_handshake(ssl::stream_base::server, [self](const error_code& ec) {
        if (ec) return self->close();
        self->read_request();
      });
    } else {
      read_request();
    }
  }

  void close() override {
    if (closed.exchange(true)) return;
    shutdown_and_close(beast::get_lowest_layer(stream_).socket());
  }

  void flush() override {
    {
      std::lock_guard<std::mutex> lock(f_.mutex);
      for (auto& p : pending) out_.push_back(std::move(p));
      pending.clear();
    }
    write_next();
  }

 private:
  std::shared_ptr<session> shared() {
    return std::static_pointer_cast<session>(shared_from_this());
  }

  void read_request() {
    parser_.emplace();
    parser_->body_limit(8u << 20);
    auto self = shared();
    http::async_read(stream_, buffer_, *parser_, [self](const error_code& ec, std::size_t) {
      if (ec) return self->close();
      self->on_request();
    });
  }

  void on_request() {
    auto message = parser_->release();
    recorded_request req;
    req.method = std::string(message.method_string());
    req.target = std::string(message.target());
    split_target(req.target, req.path, req.query);
    req.authorization = std::string(message[http::field::authorization]);
    req.content_type = std::string(message[http::field::content_type]);
    req.accept = std::string(message[http::field::accept]);
    req.body = message.body();
    bool keep_alive = message.keep_alive();

    auto result = f_.handle(req, shared_from_this());
    if (result.watch) {
      flush();
      if (result.status != 410) watch_for_close();  // 410: the ERROR event ends the stream
      return;
    }
    std::string out = http_head(
        result.status, "Content-Length: " + std::to_string(result.body.size()) + "\r\n",
        result.content_type);
    out += keep_alive ? "\r\n" : "Connection: close\r\n\r\n";
    out += result.body;
    send(std::move(out), !keep_alive);
    if (keep_alive) read_request();
  }

  // A watching client sends nothing more; a read completes when it goes away.
  void watch_for_close() {
    auto self = shared();
    stream_.async_read_some(asio::buffer(scratch_), [self](const error_code& ec, std::size_t) {
      if (ec) return self->close();
      self->watch_for_close();
    });
  }

  void send(std::string bytes, bool close_after) {
    out_.push_back({std::move(bytes), close_after});
    write_next();
  }

  void write_next() {
    if (writing_ || closed || out_.empty()) return;
    writing_ = true;
    auto self = shared();
    asio::async_write(stream_, asio::buffer(out_.front().first),
                      [self](const error_code& ec, std::size_t) {
                        self->writing_ = false;
                        bool close_after = self->out_.front().second;
                        self->out_.pop_front();
                        if (ec || close_after) return self->close();
                        self->write_next();
                      });
  }

  fake_pods_api::impl& f_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<std::pair<std::string, bool>> out_;
  bool writing_ = false;
  char scratch_[512];
};

}  // namespace

void fake_pods_api::impl::do_accept() {
  acceptor.async_accept(ioc, [this](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      std::shared_ptr<session_base> s;
      if (options.tls) {
        auto tls = std::make_shared<session<beast::ssl_stream<beast::tcp_stream>>>(
            *this, beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)),
                                                        ssl_ctx));
        tls->start();
        s = tls;
      } else {
        auto plain = std::make_shared<session<beast::tcp_stream>>(
            *this, beast::tcp_stream(std::move(socket)));
        plain->start();
        s = plain;
      }
      std::lock_guard<std::mutex> lock(mutex);
      sessions.erase(std::remove_if(sessions.begin(), sessions.end(),
                                    [](const auto& w) { return w.expired(); }),
                     sessions.end());
      sessions.push_back(s);
    }
    do_accept();
  });
}

fake_pods_api::impl::answer fake_pods_api::impl::handle(
    const recorded_request& request, const std::shared_ptr<session_base>& session) {
  std::unique_lock<std::mutex> lock(mutex);
  ++counts[request.method];
  log.push_back(request);
  auto& logged = log.back();
  auto finish = [&](answer a) {
    logged.status = a.status;
    return a;
  };

  if (!token.empty() && request.authorization != "Bearer " + token) {
    return finish(error(401, "Unauthorized"));
  }
  if (auto it = fail_next.find(request.method); it != fail_next.end()) {
    int code = it->second;
    fail_next.erase(it);
    return finish(error(code, "injected failure"));
  }

  // /api/v1/namespaces/<ns>/pods[/<name>]; other paths: other_paths().
  const std::string prefix = "/api/v1/namespaces/";
  if (request.path.rfind(prefix, 0) != 0) return finish(other_paths(request));
  std::string rest = request.path.substr(prefix.size());
  auto slash = rest.find('/');
  if (slash == std::string::npos) return finish(other_paths(request));
  std::string ns = rest.substr(0, slash);
  rest = rest.substr(slash + 1);
  std::string name;
  if (rest == "events") {  // core/v1 Events: created (201) and kept; the same checks as the real server's
    if (request.method != "POST")
      return finish(error(405, "the fake serves only POST on events"));
    auto e = json::parse(request.body, nullptr, false);
    if (!e.is_object() || e.value("kind", "") != "Event" || !e.contains("involvedObject") ||
        !e["involvedObject"].is_object() || e["involvedObject"].value("name", "").empty() ||
        e.value("reason", "").empty() || !e.contains("metadata") || !e["metadata"].is_object() ||
        (e["metadata"].value("name", "").empty() && e["metadata"].value("generateName", "").empty()))
      return finish(error(422, "Event is invalid: involvedObject.name, reason and metadata.name are required"));
    if (e["metadata"].value("namespace", ns) != ns)
      return finish(error(400, "the namespace of the provided object does not match the namespace sent on the request"));
    e["metadata"]["namespace"] = ns;
    e["metadata"]["resourceVersion"] = std::to_string(++rv);
    core_events[ns].push_back(e);
    return finish(answer{201, e.dump(), false});
  }
  if (rest == "pods") {
  } else if (rest.rfind("pods/", 0) == 0 && rest.size() > 5 &&
             rest.find('/', 5) == std::string::npos) {
    name = rest.substr(5);
  } else {
    return finish(other_paths(request));
  }
  auto query = [&](const std::string& key) {
    auto it = request.query.find(key);
    return it == request.query.end() ? std::string() : it->second;
  };

  if (name.empty() && request.method == "POST") {
    auto pod = json::parse(request.body, nullptr, false);
    if (!pod.is_object() || pod.value("kind", "") != "Pod" || !pod.contains("metadata") ||
        !pod["metadata"].is_object()) {
      return finish(error(400, "the body is not a Pod"));
    }
    std::string pod_name = pod["metadata"].value("name", "");
    if (pod_name.empty()) return finish(error(422, "name or generateName is required"));
    std::string body_ns = pod["metadata"].value("namespace", "");
    if (!body_ns.empty() && body_ns != ns) {
      return finish(error(400,
                          "the namespace of the provided object does not match the namespace "
                          "sent on the request"));
    }
    auto it = pods.find(key_of(ns, pod_name));
    if (it != pods.end()) {
      std::string message = "pods \"" + pod_name + "\" already exists";
      if (it->second.terminating) message = "object is being deleted: " + message;
      return finish(error(409, message, pod_name));
    }
    pod_entry entry;
    entry.uid = next_uid++;
    entry.object = std::move(pod);
    auto& meta = entry.object["metadata"];
    meta["namespace"] = ns;
    meta["uid"] = "00000000-0000-4000-8000-" + std::to_string(100000000000 + entry.uid);
    meta["creationTimestamp"] = now_rfc3339();
    entry.object["status"] = {{"phase", options.initial_phase}};
    bump(entry);
    json object = entry.object;
    pods[key_of(ns, pod_name)] = std::move(entry);
    emit("ADDED", ns, object);
    return finish({201, object.dump(), false});
  }

  if (name.empty() && request.method == "GET") {
    std::string selector = query("labelSelector");
    std::string watch = query("watch");
    if (watch == "1" || watch == "true") {
      std::string from = query("resourceVersion");
      answer a{200, {}, true};
      std::vector<std::string> watch_lines;
      if (from.empty() || from == "0") {
        for (const auto& [key, entry] : pods) {
          if (key.rfind(ns + "/", 0) == 0 && selector_matches(selector, entry.object)) {
            watch_lines.push_back(json{{"type", "ADDED"}, {"object", entry.object}}.dump() + "\n");
          }
        }
      } else {
        std::uint64_t since = 0;
        try {
          since = std::stoull(from);
        } catch (const std::exception&) {
          return finish(error(400, "invalid resourceVersion " + from));
        }
        if (since < compacted) {
          auto gone = status_json(410, "Expired",
                                  "too old resource version: " + from + " (" +
                                      std::to_string(compacted) + ")");
          session->pending.emplace_back(http_head(200, "Transfer-Encoding: chunked\r\n\r\n"),
                                        false);
          session->pending.emplace_back(
              chunk(json{{"type", "ERROR"}, {"object", gone}}.dump() + "\n"), false);
          session->pending.emplace_back("0\r\n\r\n", true);
          finish({200, {}, true});
          a.status = 410;  // in the stream; the HTTP status is 200
          return a;
        }
        for (const auto& e : history) {
          if (e.rv > since && e.ns == ns && selector_matches(selector, e.object)) {
            watch_lines.push_back(json{{"type", e.type}, {"object", e.object}}.dump() + "\n");
          }
        }
      }
      session->pending.emplace_back(http_head(200, "Transfer-Encoding: chunked\r\n\r\n"), false);
      for (auto& line : watch_lines) session->pending.emplace_back(chunk(line), false);
      session->watch_ns = ns;
      session->watch_selector = selector;
      watchers.push_back(session);
      return finish(a);
    }
    json list = {{"kind", "PodList"},
                 {"apiVersion", "v1"},
                 {"metadata", {{"resourceVersion", std::to_string(rv)}}},
                 {"items", json::array()}};
    for (const auto& [key, entry] : pods) {
      if (key.rfind(ns + "/", 0) == 0 && selector_matches(selector, entry.object)) {
        list["items"].push_back(entry.object);
      }
    }
    return finish({200, list.dump(), false});
  }

  if (!name.empty() && request.method == "GET") {
    auto it = pods.find(key_of(ns, name));
    if (it == pods.end()) return finish(error(404, "pods \"" + name + "\" not found", name));
    return finish({200, it->second.object.dump(), false});
  }

  if (!name.empty() && request.method == "DELETE") {
    auto it = pods.find(key_of(ns, name));
    if (it == pods.end()) return finish(error(404, "pods \"" + name + "\" not found", name));
    auto& entry = it->second;
    if (!entry.terminating) {
      long long grace = 30;
      auto options_body = json::parse(request.body, nullptr, false);
      if (options_body.is_object() && options_body.contains("gracePeriodSeconds") &&
          options_body["gracePeriodSeconds"].is_number_integer()) {
        grace = options_body["gracePeriodSeconds"].get<long long>();
      }
      if (!query("gracePeriodSeconds").empty()) grace = std::stoll(query("gracePeriodSeconds"));
      entry.terminating = true;
      entry.object["metadata"]["deletionTimestamp"] = now_rfc3339();
      entry.object["metadata"]["deletionGracePeriodSeconds"] = grace;
      emit("MODIFIED", ns, bump(entry));
      auto uid = entry.uid;
      auto timer = std::make_shared<asio::steady_timer>(ioc, options.termination);
      timer->async_wait([this, timer, ns, name, uid](const error_code& ec) {
        if (ec) return;
        std::lock_guard<std::mutex> guard(mutex);
        auto found = pods.find(key_of(ns, name));
        if (found != pods.end() && found->second.uid == uid) erase_pod(ns, name);
      });
    }
    return finish({200, entry.object.dump(), false});
  }

  return finish(error(405, "the server does not allow this method on the requested resource"));
}

fake_pods_api::impl::answer fake_pods_api::impl::other_paths(const recorded_request& request) {
  // Elsewhere the real server answers a plain-text 404, not a Status.
  const answer no_route{404, "404 page not found\n", false, "text/plain; charset=utf-8"};
  auto ok = [](const json& body) { return answer{200, body.dump(), false}; };
  auto seg = path_segments(request.path);
  const bool get = request.method == "GET";
  if (seg.empty()) return no_route;

  if (seg.size() == 1 && seg[0] == "version") {
    if (!get) return error(405, "the server does not allow this method on the requested resource");
    return ok({{"major", "1"},
               {"minor", "32"},
               {"gitVersion", "v1.32.0-iota-fake"},
               {"gitCommit", "0000000000000000000000000000000000000000"},
               {"gitTreeState", "clean"},
               {"buildDate", "2025-01-01T00:00:00Z"},
               {"goVersion", "go1.23.4"},
               {"compiler", "gc"},
               {"platform", "linux/amd64"}});
  }
  if (seg.size() == 1 && seg[0] == "api") {
    if (!get) return error(405, "the server does not allow this method on the requested resource");
    return ok({{"kind", "APIVersions"},
               {"versions", {"v1"}},
               {"serverAddressByClientCIDRs",
                json::array({{{"clientCIDR", "0.0.0.0/0"},
                              {"serverAddress", "127.0.0.1:" + std::to_string(port)}}})}});
  }
  if (seg.size() == 1 && seg[0] == "apis") {
    if (!get) return error(405, "the server does not allow this method on the requested resource");
    return ok(group_list());
  }

  // /api/v1/... or /apis/<group>/<version>/...
  std::string group;
  std::string version;
  std::size_t at = 0;
  if (seg[0] == "api" && seg.size() >= 2) {
    version = seg[1];
    at = 2;
  } else if (seg[0] == "apis" && seg.size() >= 3) {
    group = seg[1];
    version = seg[2];
    at = 3;
  } else {
    return no_route;
  }
  bool served = false;
  for (const auto& r : discovery_resources()) {
    served = served || (r.group == group && r.version == version);
  }
  if (!served) return no_route;
  std::vector<std::string> rest(seg.begin() + static_cast<std::ptrdiff_t>(at), seg.end());
  if (rest.empty()) {
    if (!get) return error(405, "the server does not allow this method on the requested resource");
    return ok(resource_list(group, version));
  }

  // [namespaces/<ns>/]<resource>[/<name>]
  const api_resource* resource = nullptr;
  std::string name;
  if (rest.size() <= 2 && (resource = find_resource(group, version, rest[0])) != nullptr &&
      (!resource->namespaced || rest.size() == 1)) {
    // A cluster-scoped object or list, or a list across namespaces.
    if (rest.size() == 2) name = rest[1];
  } else if (rest.size() >= 3 && rest.size() <= 4 && rest[0] == "namespaces" &&
             (resource = find_resource(group, version, rest[2])) != nullptr &&
             resource->namespaced) {
    if (rest.size() == 4) name = rest[3];
  } else {
    return no_route;
  }
  if (!get) return error(405, "the server does not allow this method on the requested resource");
  if (name.empty()) {
    return ok({{"kind", resource->kind + "List"},
               {"apiVersion", group_version(*resource)},
               {"metadata", {{"resourceVersion", std::to_string(rv)}}},
               {"items", json::array()}});
  }
  // Nothing but pods is stored.
  std::string qualified = resource->name + (group.empty() ? "" : "." + group);
  return {404,
          status_json(404, "NotFound", qualified + " \"" + name + "\" not found", name,
                      resource->name, group)
              .dump(),
          false};
}

// ---- fake_pods_api ------------------------------------------------------------------------

const std::vector<api_resource>& discovery_resources() {
  static const std::vector<api_resource> all = {
      {"", "v1", "namespaces", "namespace", "Namespace", false, {"ns"}},
      {"", "v1", "pods", "pod", "Pod", true, {"po"}},
      {"", "v1", "configmaps", "configmap", "ConfigMap", true, {"cm"}},
      {"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, {"sa"}},
      {"apps", "v1", "deployments", "deployment", "Deployment", true, {"deploy"}},
      {"networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", true, {"netpol"}},
      {"rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, {}},
      {"rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true, {}},
      {"rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false, {}},
      {"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding",
       "ClusterRoleBinding", false, {}},
  };
  return all;
}


fake_pods_api::fake_pods_api(fake_pods_api_options options) : impl_(std::make_unique<impl>()) {
  impl_->options = std::move(options);
  impl_->start();
}

fake_pods_api::~fake_pods_api() { stop(); }

int fake_pods_api::port() const { return impl_->port; }

std::string fake_pods_api::url() const {
  return std::string(impl_->options.tls ? "https" : "http") + "://127.0.0.1:" +
         std::to_string(impl_->port);
}

const std::string& fake_pods_api::cert_pem() const { return impl_->cert_pem; }

void fake_pods_api::require_token(const std::string& token) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->token = token;
}

void fake_pods_api::fail_next(const std::string& method, int status) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->fail_next[method] = status;
}

bool fake_pods_api::set_phase(const std::string& ns, const std::string& name,
                              const std::string& phase, const std::string& reason) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  auto it = impl_->pods.find(impl::key_of(ns, name));
  if (it == impl_->pods.end()) return false;
  auto& status = it->second.object["status"];
  if (!status.is_object()) status = json::object();
  status["phase"] = phase;
  if (reason.empty()) {
    status.erase("reason");
  } else {
    status["reason"] = reason;
  }
  impl_->emit("MODIFIED", ns, impl_->bump(it->second));
  return true;
}

void fake_pods_api::put_pod(const std::string& ns, json pod) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::string name = pod["metadata"].value("name", "");
  auto key = impl::key_of(ns, name);
  bool existed = impl_->pods.count(key) != 0;
  auto& entry = impl_->pods[key];
  if (!existed) entry.uid = impl_->next_uid++;
  entry.object = std::move(pod);
  entry.object["metadata"]["namespace"] = ns;
  impl_->emit(existed ? "MODIFIED" : "ADDED", ns, impl_->bump(entry));
}

bool fake_pods_api::remove_pod(const std::string& ns, const std::string& name) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->pods.count(impl::key_of(ns, name)) == 0) return false;
  impl_->erase_pod(ns, name);
  return true;
}

std::optional<json> fake_pods_api::pod(const std::string& ns, const std::string& name) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  auto it = impl_->pods.find(impl::key_of(ns, name));
  if (it == impl_->pods.end()) return std::nullopt;
  return it->second.object;
}

bool fake_pods_api::terminating(const std::string& ns, const std::string& name) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  auto it = impl_->pods.find(impl::key_of(ns, name));
  return it != impl_->pods.end() && it->second.terminating;
}

std::vector<nlohmann::json> fake_pods_api::events(const std::string& ns) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  auto it = impl_->core_events.find(ns);
  return it == impl_->core_events.end() ? std::vector<nlohmann::json>{} : it->second;
}

std::vector<std::string> fake_pods_api::pod_names(const std::string& ns) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<std::string> out;
  for (const auto& [key, entry] : impl_->pods) {
    if (key.rfind(ns + "/", 0) == 0) out.push_back(key.substr(ns.size() + 1));
  }
  return out;
}

void fake_pods_api::drop_watches() {
  std::vector<std::shared_ptr<session_base>> live;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    for (auto& w : impl_->watchers) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
    impl_->watchers.clear();
  }
  impl_->on_io([&] {
    for (auto& s : live) s->close();
  });
}

std::size_t fake_pods_api::open_watches() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::size_t n = 0;
  for (const auto& w : impl_->watchers) {
    auto s = w.lock();
    if (s && !s->closed) ++n;
  }
  return n;
}

void fake_pods_api::compact() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->history.clear();
  impl_->compacted = impl_->rv;
}

std::uint64_t fake_pods_api::resource_version() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->rv;
}

std::size_t fake_pods_api::count(const std::string& method) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  auto it = impl_->counts.find(method);
  return it == impl_->counts.end() ? 0 : it->second;
}

std::vector<recorded_request> fake_pods_api::requests() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->log;
}

void fake_pods_api::stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  std::vector<std::shared_ptr<session_base>> live;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    for (auto& w : impl_->sessions) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  impl_->on_io([&] {
    error_code ignored;
    impl_->acceptor.close(ignored);
    for (auto& s : live) s->close();
  });
  live.clear();
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopped = true;
    impl_->watchers.clear();
  }
  impl_->ioc.stop();
  impl_->thread.join();
}

}  // namespace iota::test
