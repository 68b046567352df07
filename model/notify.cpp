#include "model/notify.hpp"

#include "model/json_depth.hpp"

#include <cstdint>
#include <unordered_set>
#include <utility>

#include <nlohmann/json.hpp>

namespace iota::model {

using json = nlohmann::json;

std::string_view to_string(rejection r) {
  switch (r) {
    case rejection::too_large: return "too_large";
    case rejection::not_json: return "not_json";
    case rejection::not_object: return "not_object";
    case rejection::missing_o: return "missing_o";
    case rejection::bad_o: return "bad_o";
    case rejection::missing_t: return "missing_t";
    case rejection::bad_t: return "bad_t";
    case rejection::missing_id: return "missing_id";
    case rejection::bad_id: return "bad_id";
    case rejection::too_many_ids: return "too_many_ids";
    case rejection::unknown_table: return "unknown_table";
    case rejection::unhandled_op: return "unhandled_op";
  }
  return "unknown";
}

std::string_view to_string(notify_op op) {
  switch (op) {
    case notify_op::create: return "c";
    case notify_op::update: return "u";
    case notify_op::destroy: return "d";
    case notify_op::bulk_create: return "bc";
    case notify_op::bulk_update: return "bu";
    case notify_op::bulk_destroy: return "bd";
    case notify_op::other: return "other";
  }
  return "other";
}

std::string_view to_string(action_kind k) {
  switch (k) {
    case action_kind::create: return "create";
    case action_kind::destroy: return "destroy";
    case action_kind::update: return "update";
    case action_kind::reload_all: return "reload_all";
  }
  return "unknown";
}

bool operator==(const resource_action& a, const resource_action& b) {
  return a.kind == b.kind && a.resource == b.resource && a.ids == b.ids;
}

namespace {

notify_op op_of(const std::string& o) {
  if (o == "c") return notify_op::create;
  if (o == "u") return notify_op::update;
  if (o == "d") return notify_op::destroy;
  if (o == "bc") return notify_op::bulk_create;
  if (o == "bu") return notify_op::bulk_update;
  if (o == "bd") return notify_op::bulk_destroy;
  return notify_op::other;
}

// Gathers ids in first-occurrence order without duplicates: a bulk op may name a row twice
// (`where: {id: [1, 1]}`), and the orchestrator should see one change per row.
class id_collector {
 public:
  explicit id_collector(std::size_t max_ids) : max_ids_(max_ids) {}

  // Checked on the raw element count, before converting anything, so that an oversized
  // array costs no more than its parse.
  bool fits(std::size_t count) const { return count <= max_ids_; }

  // A scalar id: a non-empty string or an integral number. Floats are refused although JS
  // would stringify 1.0 as "1": JSON.stringify never writes an integral number that way, so
  // a float here is not an id the platform produced.
  std::optional<rejection> add_scalar(const json& v) {
    std::string id;
    switch (v.type()) {
      case json::value_t::string:
        id = v.get_ref<const std::string&>();
        if (id.empty())
          return rejection::bad_id;
        break;
      case json::value_t::number_integer:
        id = std::to_string(v.get<std::int64_t>());
        break;
      case json::value_t::number_unsigned:
        id = std::to_string(v.get<std::uint64_t>());
        break;
      default:
        return rejection::bad_id;
    }
    if (seen_.insert(id).second)
      ids_.push_back(std::move(id));
    return std::nullopt;
  }

  // A primary key: an object with `id` (what sequelize sends), or the id itself.
  std::optional<rejection> add_key(const json& v) {
    if (v.is_object()) {
      auto it = v.find("id");
      if (it == v.end())
        return rejection::missing_id;
      return add_scalar(*it);
    }
    return add_scalar(v);
  }

  std::vector<std::string> take() { return std::move(ids_); }

 private:
  std::size_t max_ids_;
  std::vector<std::string> ids_;
  std::unordered_set<std::string> seen_;
};

// c/u/d: `k` is one primary key.
std::optional<rejection> collect_k(const json& msg, id_collector& ids) {
  auto k = msg.find("k");
  if (k == msg.end())
    return rejection::missing_id;
  if (!ids.fits(1))
    return rejection::too_many_ids;
  return ids.add_key(*k);
}

// bc: `keys` is an array of primary keys.
std::optional<rejection> collect_keys(const json& msg, id_collector& ids) {
  auto keys = msg.find("keys");
  if (keys == msg.end())
    return rejection::missing_id;
  if (!keys->is_array())
    return rejection::bad_id;
  if (keys->empty())
    return rejection::missing_id;
  if (!ids.fits(keys->size()))
    return rejection::too_many_ids;
  for (const auto& key : *keys)
    if (auto problem = ids.add_key(key))
      return problem;
  return std::nullopt;
}

// bu/bd: `where.id` is one id or an array of ids. A `where` on other columns (a bulk update
// by status, say) names no rows we could route, hence missing_id.
std::optional<rejection> collect_where(const json& msg, id_collector& ids) {
  auto where = msg.find("where");
  if (where == msg.end())
    return rejection::missing_id;
  if (!where->is_object())
    return rejection::bad_id;
  auto id = where->find("id");
  if (id == where->end())
    return rejection::missing_id;
  if (!id->is_array()) {
    if (!ids.fits(1))
      return rejection::too_many_ids;
    return ids.add_scalar(*id);
  }
  if (id->empty())
    return rejection::missing_id;
  if (!ids.fits(id->size()))
    return rejection::too_many_ids;
  for (const auto& one : *id)
    if (auto problem = ids.add_scalar(one))
      return problem;
  return std::nullopt;
}

// The string member `name`: missing -> `missing`, anything but a non-empty string -> `bad`.
std::variant<std::string, rejection> string_member(const json& msg, const char* name,
                                                   rejection missing, rejection bad) {
  auto it = msg.find(name);
  if (it == msg.end())
    return missing;
  if (!it->is_string())
    return bad;
  const auto& s = it->get_ref<const std::string&>();
  if (s.empty())
    return bad;
  return s;
}

std::variant<notify, rejection> parse_checked(std::string_view payload,
                                              const notify_limits& limits) {
  if (payload.size() > limits.max_payload_bytes)
    return rejection::too_large;
  // A raw NUL is never valid JSON (not even inside a string), but nlohmann's lexer takes it
  // for the end of input and would accept `{…}\0garbage`.
  if (payload.empty() || payload.find('\0') != std::string_view::npos ||
      !json_nesting_within(payload, limits.max_depth))
    return rejection::not_json;
  // allow_exceptions = false: syntax errors and invalid UTF-8 yield a discarded value.
  json msg = json::parse(payload.begin(), payload.end(), nullptr, false);
  if (msg.is_discarded())
    return rejection::not_json;
  if (!msg.is_object())
    return rejection::not_object;

  notify n;
  auto o = string_member(msg, "o", rejection::missing_o, rejection::bad_o);
  if (auto* r = std::get_if<rejection>(&o))
    return *r;
  auto t = string_member(msg, "t", rejection::missing_t, rejection::bad_t);
  if (auto* r = std::get_if<rejection>(&t))
    return *r;
  n.op_text = std::move(std::get<std::string>(o));
  n.table = std::move(std::get<std::string>(t));
  n.op = op_of(n.op_text);

  id_collector ids(limits.max_ids);
  std::optional<rejection> problem;
  switch (n.op) {
    case notify_op::create:
    case notify_op::update:
    case notify_op::destroy:
      problem = collect_k(msg, ids);
      break;
    case notify_op::bulk_create:
      problem = collect_keys(msg, ids);
      break;
    case notify_op::bulk_update:
    case notify_op::bulk_destroy:
      problem = collect_where(msg, ids);
      break;
    case notify_op::other:
      break;
  }
  // All or nothing: applying half of a malformed bulk message would look like success.
  if (problem)
    n.ids_problem = problem;
  else
    n.ids = ids.take();
  return n;
}

}  // namespace

std::variant<notify, rejection> parse_notify(std::string_view payload,
                                             const notify_limits& limits) {
  try {
    return parse_checked(payload, limits);
  } catch (const json::exception&) {
    // Unreachable by construction (types are checked before every access); kept so that a
    // future slip costs one dropped message, not the bridge.
    return rejection::not_json;
  }
}

std::variant<std::vector<resource_action>, rejection> route_notify(const notify& n,
                                                                   const routing_table& table) {
  std::vector<resource_action> actions;
  bool known = false;

  if (table.resources.count(n.table) != 0) {
    known = true;
    action_kind kind;
    switch (n.op) {
      case notify_op::create:
      case notify_op::bulk_create:
        kind = action_kind::create;
        break;
      case notify_op::destroy:
      case notify_op::bulk_destroy:
        kind = action_kind::destroy;
        break;
      case notify_op::update:
      case notify_op::bulk_update:
        kind = action_kind::update;
        break;
      default:
        return rejection::unhandled_op;
    }
    if (n.ids_problem)
      return *n.ids_problem;
    if (n.ids.empty())  // only a hand-built notify can get here
      return rejection::missing_id;
    actions.push_back(resource_action{kind, n.table, n.ids});
  }

  if (auto dep = table.dependents.find(n.table); dep != table.dependents.end()) {
    known = true;
    // A dependency row changed: every instance of each dependent resource re-reads.
    std::set<std::string> done;
    for (const auto& resource : dep->second)
      if (done.insert(resource).second)
        actions.push_back(resource_action{action_kind::reload_all, resource, {}});
  }

  if (!known)
    return rejection::unknown_table;
  return actions;
}

}  // namespace iota::model
