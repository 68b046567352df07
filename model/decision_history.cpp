#include "model/decision_history.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <iterator>

#include <nlohmann/json.hpp>

#include "model/text.hpp"


namespace iota::model {

const std::vector<std::string>& decision_kinds() {
  static const std::vector<std::string> kinds = {
    "placed",   "removed", "moved",      "instance_created", "instance_removed", "restart",
    "backoff",  "leadership", "reconcile", "dropped",        "orchestrate"};
  return kinds;
}

bool is_decision_kind(const std::string& kind) {
  auto& k = decision_kinds();
  return std::find(k.begin(), k.end(), kind) != k.end();
}

namespace {

bool matches(const decision& d, const decision_filter& f) {
  if (!f.instance.empty() && d.instance != f.instance)
    return false;
  if (!f.kind.empty() && d.kind != f.kind)
    return false;
  if (!f.id.empty() && std::find(d.ids.begin(), d.ids.end(), f.id) == d.ids.end())
    return false;
  return true;
}

}  // namespace

std::optional<decision_filter> parse_decision_filter(const std::map<std::string, std::string>& query,
                                                     std::string& error) {
  decision_filter f;
  for (auto& [key, value] : query) {
    if (key == "resource") {
      f.resource = value;
    } else if (key == "instance") {
      if (value.empty() || value.size() > 9 || value.find_first_not_of("0123456789") != std::string::npos) {
        error = "instance must be a non-negative integer, got " + model::quoted(value);
        return std::nullopt;
      }
      f.instance = std::to_string(std::stol(value));
    } else if (key == "id") {
      f.id = value;
    } else if (key == "kind") {
      if (!is_decision_kind(value)) {
        std::string kinds;
        for (auto& k : decision_kinds())
          kinds += (kinds.empty() ? "" : ", ") + k;
        error = "kind must be one of " + kinds + "; got " + model::quoted(value);
        return std::nullopt;
      }
      f.kind = value;
    } else if (key == "limit") {
      if (value.empty() || value.size() > 6 || value.find_first_not_of("0123456789") != std::string::npos ||
          std::stol(value) < 1 || std::stol(value) > 10000) {
        error = "limit must be an integer from 1 to 10000, got " + model::quoted(value);
        return std::nullopt;
      }
      f.limit = static_cast<std::size_t>(std::stol(value));
    } else {
      error = "unknown filter " + model::quoted(key) + " (resource, instance, id, kind, limit)";
      return std::nullopt;
    }
  }
  return f;
}

std::uint64_t decision_history::record(decision d) {
  if (d.seq == 0)
    d.seq = next_seq_;
  next_seq_ = std::max(next_seq_, d.seq + 1);
  auto seq = d.seq;
  if (d.count == 0)
    d.count = d.ids.size();
  if (d.ids.size() > max_listed_ids)
    d.ids.resize(max_listed_ids);
  if (d.count > d.ids.size()) {
    auto& bulk = bulk_[d.resource];
    bulk.push_back(d);
    if (bulk.size() > bulk_kept)
      bulk.pop_front();
  }
  // In seq order (a write's decisions, numbered when applied, arrive once durable: after
  // decisions numbered later but recorded at once).
  auto& ring = rings_[d.resource];
  auto at = ring.end();
  while (at != ring.begin() && std::prev(at)->seq > seq)
    --at;
  ring.insert(at, std::move(d));
  if (ring.size() > per_resource_)
    ring.pop_front();
  return seq;
}

std::vector<decision> decision_history::query(const decision_filter& f) const {
  std::vector<decision> out;
  // Newest first across the rings: merge by seq, walking each ring from its end.
  std::vector<std::pair<const std::deque<decision>*, std::size_t>> cursors;  // ring, items left
  for (auto& [resource, ring] : rings_)
    if (f.resource.empty() || resource == f.resource)
      cursors.emplace_back(&ring, ring.size());
  while (out.size() < f.limit) {
    std::pair<const std::deque<decision>*, std::size_t>* best = nullptr;
    for (auto& c : cursors)
      if (c.second > 0 && (!best || (*c.first)[c.second - 1].seq > (*best->first)[best->second - 1].seq))
        best = &c;
    if (!best)
      break;
    auto& d = (*best->first)[--best->second];
    if (matches(d, f))
      out.push_back(d);
  }
  return out;
}

std::vector<decision> decision_history::about(const std::string& resource, const std::string& id,
                                              std::uint64_t decided_by, std::size_t limit) const {
  std::vector<decision> out;
  auto find_in = [&](const std::map<std::string, std::deque<decision>>& where) -> const decision* {
    auto it = where.find(resource);
    if (it == where.end())
      return nullptr;
    for (auto d = it->second.rbegin(); d != it->second.rend(); ++d)
      if (d->seq == decided_by)
        return &*d;
    return nullptr;
  };
  if (decided_by != 0) {
    const decision* d = find_in(rings_);
    if (!d)
      d = find_in(bulk_);
    if (d)
      out.push_back(*d);
  }
  auto it = rings_.find(resource);
  if (it != rings_.end())
    for (auto d = it->second.rbegin(); d != it->second.rend() && out.size() < limit; ++d)
      if (d->seq != decided_by && std::find(d->ids.begin(), d->ids.end(), id) != d->ids.end())
        out.push_back(*d);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.seq > b.seq; });
  return out;
}

std::size_t decision_history::size() const {
  std::size_t n = 0;
  for (auto& [_, ring] : rings_)
    n += ring.size();
  return n;
}

std::string iso8601_ms(std::int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

namespace {

nlohmann::json json_of(const decision& d) {
  nlohmann::json j = {{"seq", d.seq}, {"time", iso8601_ms(d.time_ms)}};
  if (!d.resource.empty())
    j["resource"] = d.resource;
  j["kind"] = d.kind;
  if (!d.instance.empty())
    j["instance"] = d.instance;
  if (d.count > 0) {
    j["ids"] = d.ids;
    j["count"] = d.count;
  }
  if (!d.cause.empty())
    j["cause"] = d.cause;
  if (!d.detail.empty())
    j["detail"] = d.detail;
  return j;
}

}  // namespace

std::string to_json(const decision& d) {
  return json_of(d).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string to_json(const std::vector<decision>& ds) {
  auto a = nlohmann::json::array();
  for (auto& d : ds)
    a.push_back(json_of(d));
  return a.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace iota::model
