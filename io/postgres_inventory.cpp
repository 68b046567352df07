// The PostgreSQL inventory (SPEC sections 8, 13): column 0 of a query's rows, via libpq.
//
// Threading: one worker thread per inventory object owns the connection; load() only queues
// the callback. The worker never blocks for long without looking at the stop flag: connecting
// (PQconnectStartParams + PQconnectPoll) and waiting for the result (PQconsumeInput) poll the
// socket in 100 ms slices, so the destructor can abandon a load at once. The state the worker
// touches is a shared_ptr it holds itself, so destroying the inventory from inside a `done`
// callback (on the worker thread) detaches instead of deadlocking, and nothing freed is used.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <libpq-fe.h>
#include <memory>
#include <mutex>
#include <poll.h>
#include <regex>
#include <stdexcept>
#include <thread>

#include "io/inventory.hpp"
#include "io/log.hpp"

namespace iota::io {

std::string redact_conninfo(const std::string& conninfo) {
  std::string s = conninfo;
  auto scheme = s.find("://");
  bool uri = s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0;
  if (uri) {
    auto start = scheme + 3;
    auto auth_end = s.find_first_of("/?", start);
    if (auth_end == std::string::npos)
      auth_end = s.size();
    auto at = s.rfind('@', auth_end);
    if (at != std::string::npos && at >= start) {
      auto colon = s.find(':', start);
      if (colon != std::string::npos && colon < at)
        s.replace(colon + 1, at - colon - 1, "***");
    }
    static const std::regex param{R"(([?&])password=[^&]*)"};
    return std::regex_replace(s, param, "$1password=***");
  }
  static const std::regex keyword{R"((^|\s)password\s*=\s*('([^'\\]|\\.)*'?|\S*))"};
  return std::regex_replace(s, keyword, "$1password=***");
}

namespace {

using clock = std::chrono::steady_clock;
constexpr auto default_connect_timeout = std::chrono::seconds{10};
constexpr int poll_slice_ms = 100;

struct conn_deleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct result_deleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using conn_ptr = std::unique_ptr<PGconn, conn_deleter>;
using result_ptr = std::unique_ptr<PGresult, result_deleter>;

// libpq's messages end with a newline and may span lines: one line for logs.
std::string one_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  for (auto& c : text)
    if (c == '\n' || c == '\t')
      c = ' ';
  return text;
}

struct parsed_conninfo {
  std::chrono::milliseconds connect_timeout = default_connect_timeout;
  std::string password;  // to scrub from server/libpq messages, belt and braces
};

parsed_conninfo parse_conninfo(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (!opts) {
    std::string msg = err ? one_line(err) : "out of memory";
    PQfreemem(err);
    throw std::invalid_argument("postgres inventory " + redact_conninfo(conninfo) +
                                ": invalid conninfo: " + msg);
  }
  parsed_conninfo p;
  for (auto* o = opts; o->keyword; ++o) {
    if (!o->val)
      continue;
    std::string key = o->keyword;
    if (key == "connect_timeout") {
      int secs = std::atoi(o->val);
      if (secs > 0)
        p.connect_timeout = std::chrono::seconds{std::max(secs, 2)};  // libpq's own minimum
    } else if (key == "password") {
      p.password = o->val;
    }
  }
  PQconninfoFree(opts);
  return p;
}

struct shared_state {
  std::string conninfo;
  std::string query;
  std::string source;  // describe()
  parsed_conninfo parsed;

  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::function<void(inventory_result)>> queue;
  bool stopping = false;

  bool stop_requested() {
    std::lock_guard<std::mutex> lock{mutex};
    return stopping;
  }

  std::string scrub(std::string text) const {
    text = one_line(std::move(text));
    if (parsed.password.size() >= 3) {
      for (auto pos = text.find(parsed.password); pos != std::string::npos;
           pos = text.find(parsed.password, pos + 3))
        text.replace(pos, parsed.password.size(), "***");
    }
    return text;
  }
};

// Waits until the socket is ready for what libpq asked (`want_write`), the deadline passes or
// a stop is requested. 1 ready, 0 deadline passed, -1 stop or poll error.
int wait_socket(shared_state& st, int fd, bool want_write, clock::time_point deadline) {
  for (;;) {
    if (st.stop_requested())
      return -1;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0)
      return 0;
    pollfd p{fd, static_cast<short>(want_write ? POLLOUT : POLLIN), 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), poll_slice_ms)));
    if (n > 0)
      return 1;
    if (n < 0 && errno != EINTR)
      return -1;
  }
}

class worker {
 public:
  explicit worker(std::shared_ptr<shared_state> st) : st_(std::move(st)) {}

  void run() {
    for (;;) {
      std::deque<std::function<void(inventory_result)>> batch;
      {
        std::unique_lock<std::mutex> lock{st_->mutex};
        st_->cv.wait(lock, [&] { return st_->stopping || !st_->queue.empty(); });
        batch.swap(st_->queue);
        if (st_->stopping) {
          lock.unlock();
          fail_all(batch, "the inventory was shut down before the load ran");
          return;
        }
      }
      // Every load queued so far shares this query's result: none asked before it started.
      auto r = load_once();
      if (!r.ok && st_->stop_requested())
        r.error = st_->source + ": load abandoned, the inventory was shut down";
      for (std::size_t i = 0; i < batch.size(); ++i)
        batch[i](i + 1 == batch.size() ? std::move(r) : r);
    }
  }

 private:
  void fail_all(std::deque<std::function<void(inventory_result)>>& batch, const std::string& why) {
    for (auto& done : batch) {
      inventory_result r;
      r.error = st_->source + ": " + why;
      done(std::move(r));
    }
  }

  inventory_result load_once() {
    bool reused = conn_ != nullptr;
    auto r = attempt();
    // A kept connection may have died since the last load (server restarted): one retry on a
    // fresh connection before reporting the failure.
    if (!r.ok && reused && !conn_ && !st_->stop_requested())
      r = attempt();
    return r;
  }

  inventory_result fail(std::string what) {
    inventory_result r;
    r.error = st_->source + ": " + st_->scrub(std::move(what));
    return r;
  }

  inventory_result attempt() {
    if (!conn_) {
      std::string error;
      if (!connect(error))
        return fail(error);
    }
    PGconn* c = conn_.get();
    // Extended protocol: exactly one statement; text results whatever the column type.
    if (!PQsendQueryParams(c, st_->query.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0)) {
      auto msg = std::string("query failed: ") + PQerrorMessage(c);
      conn_.reset();
      return fail(msg);
    }
    while (PQisBusy(c)) {
      int w = wait_socket(*st_, PQsocket(c), false, clock::time_point::max());
      if (w < 0) {
        conn_.reset();
        return fail(st_->stop_requested() ? "abandoned" : "poll failed");
      }
      if (!PQconsumeInput(c)) {
        auto msg = std::string("query failed: ") + PQerrorMessage(c);
        conn_.reset();
        return fail(msg);
      }
    }
    inventory_result r;
    std::string error;
    bool got_rows = false;
    std::size_t nulls = 0;
    while (result_ptr res{PQgetResult(c)}) {
      auto status = PQresultStatus(res.get());
      if (!error.empty() || got_rows)
        continue;  // drain the rest
      if (status == PGRES_TUPLES_OK) {
        if (PQnfields(res.get()) < 1) {
          error = "the query returned no columns (expected the ids in column 0)";
          continue;
        }
        int n = PQntuples(res.get());
        r.ids.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
          if (PQgetisnull(res.get(), i, 0)) {
            ++nulls;
            continue;
          }
          r.ids.emplace_back(PQgetvalue(res.get(), i, 0),
                             static_cast<std::size_t>(PQgetlength(res.get(), i, 0)));
        }
        got_rows = true;
      } else if (status == PGRES_COMMAND_OK || status == PGRES_EMPTY_QUERY) {
        error = "the query returned no rows (is it a SELECT?)";
      } else {
        error = std::string("query failed: ") + PQresultErrorMessage(res.get());
      }
    }
    if (PQstatus(c) != CONNECTION_OK)
      conn_.reset();
    if (!error.empty())
      return fail(error);
    if (!got_rows)
      return fail("the query returned nothing");
    r.ok = true;
    if (nulls > 0) {
      r.warning = st_->source + ": skipped " + std::to_string(nulls) + " NULL id" +
                  (nulls == 1 ? "" : "s");
      log::warn("inventory", r.warning);
    }
    return r;
  }

  bool connect(std::string& error) {
    auto deadline = clock::now() + st_->parsed.connect_timeout;
    // expand_dbname: `dbname` carries the whole conninfo (keyword form or URI).
    const char* keys[] = {"dbname", "fallback_application_name", nullptr};
    const char* values[] = {st_->conninfo.c_str(), "iota-orchestrator", nullptr};
    conn_ptr c{PQconnectStartParams(keys, values, 1)};
    if (!c) {
      error = "connect failed: out of memory";
      return false;
    }
    if (PQstatus(c.get()) == CONNECTION_BAD) {
      error = std::string("connect failed: ") + PQerrorMessage(c.get());
      return false;
    }
    auto state = PGRES_POLLING_WRITING;
    for (;;) {
      if (state == PGRES_POLLING_OK)
        break;
      if (state == PGRES_POLLING_FAILED) {
        error = std::string("connect failed: ") + PQerrorMessage(c.get());
        return false;
      }
      int w = wait_socket(*st_, PQsocket(c.get()), state == PGRES_POLLING_WRITING, deadline);
      if (w < 0) {
        error = st_->stop_requested() ? "abandoned" : "connect failed: poll error";
        return false;
      }
      if (w == 0) {
        error = "connect failed: no connection within " +
                std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                 st_->parsed.connect_timeout)
                                 .count()) +
                " s (connect_timeout)";
        return false;
      }
      state = PQconnectPoll(c.get());
    }
    conn_ = std::move(c);
    return true;
  }

  std::shared_ptr<shared_state> st_;
  conn_ptr conn_;
};

class postgres_inventory : public inventory_source {
 public:
  postgres_inventory(std::string conninfo, std::string query)
      : st_(std::make_shared<shared_state>()) {
    st_->parsed = parse_conninfo(conninfo);  // throws std::invalid_argument
    st_->source = "postgres " + redact_conninfo(conninfo) + " query " + query;
    st_->conninfo = std::move(conninfo);
    st_->query = std::move(query);
    thread_ = std::thread([st = st_] { worker{st}.run(); });
  }

  ~postgres_inventory() override {
    {
      std::lock_guard<std::mutex> lock{st_->mutex};
      st_->stopping = true;
    }
    st_->cv.notify_all();
    if (thread_.get_id() == std::this_thread::get_id())
      thread_.detach();  // destroyed from a `done` callback: the worker owns st_ and ends
    else
      thread_.join();
  }

  void load(std::function<void(inventory_result)> done) override {
    {
      std::lock_guard<std::mutex> lock{st_->mutex};
      st_->queue.push_back(std::move(done));
    }
    st_->cv.notify_one();
  }

  std::string describe() const override { return st_->source; }

 private:
  std::shared_ptr<shared_state> st_;
  std::thread thread_;
};

}  // namespace

std::shared_ptr<inventory_source> make_postgres_inventory(std::string conninfo, std::string query) {
  return std::make_shared<postgres_inventory>(std::move(conninfo), std::move(query));
}

}  // namespace iota::io
