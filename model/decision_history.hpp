#pragma once
// The decision history (SPEC 14): every decision that changes where a resource lives or what
// runs, with its cause, in bounded memory: a ring per resource type (newest last), plus the
// last few bulk decisions (an orchestrate of 400,000 ids is one event naming 100 of them),
// kept beyond the ring so that "why is this id here" still finds them. Pure: the caller
// locks, stamps the time and writes the log line.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace iota::model {

struct decision {
  std::uint64_t seq = 0;          // assigned by record(); unique, increasing
  std::int64_t time_ms = 0;       // Unix time in milliseconds
  std::string resource;           // "" for a notify dropped before its type was known
  std::string kind;               // one of decision_kinds()
  std::string instance;           // "" = not about one instance
  std::vector<std::string> ids;   // at most max_listed_ids
  std::size_t count = 0;          // how many ids the decision touched (0 with no ids)
  std::string cause;              // e.g. "notify", "orchestrate", "heartbeat"
  std::string detail;
};

inline constexpr std::size_t max_listed_ids = 100;

// placed, removed, moved, instance_created, instance_removed, restart, backoff, leadership,
// reconcile, dropped, orchestrate.
const std::vector<std::string>& decision_kinds();
bool is_decision_kind(const std::string& kind);

struct decision_filter {
  std::string resource;  // "" = every type
  std::string instance;
  std::string id;
  std::string kind;
  std::size_t limit = 100;
};

// The (decoded) query parameters of GET /v1/api/events; on a bad filter, `error` names it.
std::optional<decision_filter> parse_decision_filter(const std::map<std::string, std::string>& query,
                                                     std::string& error);

class decision_history {
 public:
  explicit decision_history(std::size_t per_resource = 10000) : per_resource_(per_resource) {}

  // Keeps `d` (its ids cut to max_listed_ids, count set from them if 0; numbered here unless
  // it has a seq) and returns its seq.
  std::uint64_t record(decision d);
  // Newest first.
  std::vector<decision> query(const decision_filter& f) const;
  // The decisions about `id` of `resource`, newest first: the one numbered `decided_by` (the
  // decision that put it where it is, found also when it names the id only by count), then
  // any others that list it.
  std::vector<decision> about(const std::string& resource, const std::string& id, std::uint64_t decided_by,
                              std::size_t limit = 10) const;
  std::size_t size() const;

 private:
  std::size_t per_resource_;
  std::uint64_t next_seq_ = 1;
  std::map<std::string, std::deque<decision>> rings_;
  std::map<std::string, std::deque<decision>> bulk_;  // the last bulk_kept with count > ids listed
};

inline constexpr std::size_t bulk_kept = 32;

// {"seq":..,"time":"..Z","resource":..,"kind":..,"instance":..,"ids":[..],"count":..,"cause":..,
// "detail":..}; fields that do not apply are left out.
std::string to_json(const decision& d);
std::string to_json(const std::vector<decision>& ds);  // a JSON array
std::string iso8601_ms(std::int64_t ms);

}  // namespace iota::model
