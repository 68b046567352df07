#pragma once
// The platform's `cm/notify` messages (shared/SPEC.md section 4): parsing and routing.
//
// The stream is fed by every committed transaction of the platform, so a bad message must
// never stop it: parse_notify and route_notify never throw and classify every malformed
// input as a `rejection`, which the bridge counts (stats label) and logs once per kind.
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "model/action_kind.hpp"

namespace iota::model {

// c u d bc bu bd as written by the platform's notifyAftercommit(); `other` keeps any other
// op, since the publisher's default branch sends `{"o":…,"t":…}` for ops we do not know.
enum class notify_op { create, update, destroy, bulk_create, bulk_update, bulk_destroy, other };

// Why a message was dropped. Deep nesting (an attack, never something the platform sends)
// is reported as not_json: we refuse to parse it at all.
enum class rejection {
  too_large,
  not_json,
  not_object,
  missing_o,
  bad_o,
  missing_t,
  bad_t,
  missing_id,
  bad_id,
  too_many_ids,
  unknown_table,
  unhandled_op
};

// Stable snake_case names ("too_large", …): stats keys and Prometheus label values.
std::string_view to_string(rejection r);
// "c", "u", "d", "bc", "bu", "bd", "other": for logs.
std::string_view to_string(notify_op op);

struct notify_limits {
  std::size_t max_payload_bytes = 1048576;
  std::size_t max_ids = 20000;
  // nlohmann's DOM is fine with depth, but anything walking it recursively is not; real
  // notifies are 3-4 levels deep (`instance` carries the row, which may hold JSON columns).
  std::size_t max_depth = 64;
};

struct notify {
  notify_op op = notify_op::other;
  std::string op_text;  // `o` as sent
  std::string table;    // `t`
  // c/u/d: `k`; bc: `keys`; bu/bd: `where.id`. Numbers become their decimal string (the
  // original did `id + ''`), duplicates are kept once in first-occurrence order.
  std::vector<std::string> ids;
  // Set (and `ids` left empty) when the op carries ids but they are missing, malformed or
  // too many. Not a rejection of the whole message: a dependency table needs no ids, so
  // only route_notify knows whether this matters.
  std::optional<rejection> ids_problem;
};

// Never throws. Checks, in order: size (before parsing), depth and JSON/UTF-8 validity,
// object-ness, `o`, `t`, then the ids of the op (into ids_problem).
std::variant<notify, rejection> parse_notify(std::string_view payload,
                                             const notify_limits& limits = {});

// Built from config: resource tables and dependency tables.
struct routing_table {
  std::set<std::string> resources;                             // e.g. {"Thing","Rule"}
  std::map<std::string, std::vector<std::string>> dependents;  // "ProtocolMeta" -> {"Thing"}
};

struct resource_action {
  action_kind kind = action_kind::reload_all;
  std::string resource;
  std::vector<std::string> ids;  // empty for reload_all
};

bool operator==(const resource_action& a, const resource_action& b);

// t a resource: c/bc -> create, d/bd -> destroy, u/bu -> update (ids required; ids_problem is
// returned as the rejection), other ops -> unhandled_op. t a dependency table: any op -> one
// reload_all per dependent resource (in config order, each once). A table that is both gets
// its resource action followed by the reload_alls; a rejection of the resource part wins,
// since the message is malformed for its main purpose. Anything else -> unknown_table.
std::variant<std::vector<resource_action>, rejection> route_notify(const notify& n,
                                                                   const routing_table& table);

}  // namespace iota::model
