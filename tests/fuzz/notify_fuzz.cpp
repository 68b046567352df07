// libFuzzer: the `cm/notify` parser and router (model/notify, SPEC section 4).
// Properties beyond "no crash, no UB, no leak": parse_notify never throws; a parsed notify
// has ids xor an ids_problem, no empty or duplicate id, at most max_ids of them; routing
// never throws and yields actions whose ids are exactly the notify's.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string_view>

#include "model/notify.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace iota::model;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view payload(reinterpret_cast<const char*>(data), size);
  notify_limits limits;
  limits.max_payload_bytes = 1 << 16;
  limits.max_ids = 64;
  limits.max_depth = 16;
  auto parsed = parse_notify(payload, limits);
  auto* n = std::get_if<notify>(&parsed);
  if (n == nullptr) {
    FUZZ_CHECK(!to_string(std::get<rejection>(parsed)).empty());
    return 0;
  }
  FUZZ_CHECK(!n->table.empty() && !n->op_text.empty());
  FUZZ_CHECK(!(n->ids_problem && !n->ids.empty()));
  FUZZ_CHECK(n->ids.size() <= limits.max_ids);
  std::set<std::string> unique(n->ids.begin(), n->ids.end());
  FUZZ_CHECK(unique.size() == n->ids.size());
  FUZZ_CHECK(unique.count("") == 0);

  routing_table table;
  table.resources = {"Thing", "Rule", n->table.size() % 2 ? n->table : std::string("X")};
  table.dependents = {{"ProtocolMeta", {"Thing", "Thing"}}, {"DeviceMeta", {"Thing"}}};
  auto routed = route_notify(*n, table);
  if (auto* actions = std::get_if<std::vector<resource_action>>(&routed)) {
    FUZZ_CHECK(!actions->empty());
    for (const auto& a : *actions) {
      if (a.kind == action_kind::reload_all)
        FUZZ_CHECK(a.ids.empty());
      else
        FUZZ_CHECK(a.ids == n->ids && !a.ids.empty());
    }
  }
  return 0;
}
