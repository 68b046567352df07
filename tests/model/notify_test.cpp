#include "model/notify.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <string>
#include <unordered_set>

namespace Catch {
template <>
struct StringMaker<iota::model::rejection> {
  static std::string convert(iota::model::rejection r) { return std::string(to_string(r)); }
};
template <>
struct StringMaker<iota::model::notify_op> {
  static std::string convert(iota::model::notify_op op) { return std::string(to_string(op)); }
};
template <>
struct StringMaker<iota::model::action_kind> {
  static std::string convert(iota::model::action_kind k) { return std::string(to_string(k)); }
};
}  // namespace Catch

using namespace iota::model;
using ids_t = std::vector<std::string>;

namespace {

notify accepted(std::string_view payload, const notify_limits& limits = {}) {
  auto r = parse_notify(payload, limits);
  INFO("payload: " << payload.substr(0, 200));
  REQUIRE(std::holds_alternative<notify>(r));
  return std::get<notify>(r);
}

rejection rejected(std::string_view payload, const notify_limits& limits = {}) {
  auto r = parse_notify(payload, limits);
  INFO("payload: " << payload.substr(0, 200));
  REQUIRE(std::holds_alternative<rejection>(r));
  return std::get<rejection>(r);
}

// The ids problem of a message whose envelope is fine.
std::optional<rejection> ids_problem(std::string_view payload, const notify_limits& limits = {}) {
  auto n = accepted(payload, limits);
  if (n.ids_problem)
    CHECK(n.ids.empty());
  return n.ids_problem;
}

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i)
    out += s;
  return out;
}

// `[1,2,…,n]`
std::string number_array(std::size_t n) {
  std::string out = "[";
  for (std::size_t i = 1; i <= n; ++i) {
    if (i > 1)
      out += ',';
    out += std::to_string(i);
  }
  return out + "]";
}

routing_table sample_table() {
  routing_table t;
  t.resources = {"Thing", "Rule"};
  t.dependents = {{"ProtocolMeta", {"Thing"}}, {"DeviceMeta", {"Thing"}}};
  return t;
}

std::vector<resource_action> routed(const notify& n, const routing_table& t = sample_table()) {
  auto r = route_notify(n, t);
  REQUIRE(std::holds_alternative<std::vector<resource_action>>(r));
  return std::get<std::vector<resource_action>>(r);
}

rejection route_rejected(const notify& n, const routing_table& t = sample_table()) {
  auto r = route_notify(n, t);
  REQUIRE(std::holds_alternative<rejection>(r));
  return std::get<rejection>(r);
}

}  // namespace

TEST_CASE("c/u/d carry one primary key in k", "[notify]") {
  SECTION("k as an object with a string id, as the platform sends it") {
    auto n = accepted(R"({"o":"c","t":"Thing","k":{"id":"t-1"},"instance":{"id":"t-1","name":"x"}})");
    CHECK(n.op == notify_op::create);
    CHECK(n.op_text == "c");
    CHECK(n.table == "Thing");
    CHECK(n.ids == ids_t{"t-1"});
    CHECK_FALSE(n.ids_problem);
  }
  SECTION("u and d") {
    auto u = accepted(R"({"o":"u","t":"Rule","k":{"id":"r"}})");
    CHECK(u.op == notify_op::update);
    CHECK(u.ids == ids_t{"r"});
    auto d = accepted(R"({"o":"d","t":"Rule","k":{"id":"r"}})");
    CHECK(d.op == notify_op::destroy);
    CHECK(d.ids == ids_t{"r"});
  }
  SECTION("k.id as a number becomes its decimal string") {
    CHECK(accepted(R"({"o":"c","t":"Thing","k":{"id":42}})").ids == ids_t{"42"});
    CHECK(accepted(R"({"o":"c","t":"Thing","k":{"id":-7}})").ids == ids_t{"-7"});
    CHECK(accepted(R"({"o":"c","t":"Thing","k":{"id":18446744073709551615}})").ids ==
          ids_t{"18446744073709551615"});
  }
  SECTION("k as a bare string or number") {
    CHECK(accepted(R"({"o":"d","t":"Thing","k":"abc"})").ids == ids_t{"abc"});
    CHECK(accepted(R"({"o":"d","t":"Thing","k":17})").ids == ids_t{"17"});
    CHECK(accepted(R"({"o":"d","t":"Thing","k":0})").ids == ids_t{"0"});
  }
  SECTION("other members of k are ignored, whitespace is fine") {
    auto n = accepted(" {\n \"t\" : \"Thing\", \"o\" : \"u\", \"k\" : {\"tenant\":1, \"id\":\"x\"} }\n");
    CHECK(n.op == notify_op::update);
    CHECK(n.ids == ids_t{"x"});
  }
  SECTION("ids keep their text: unicode and escapes") {
    CHECK(accepted(R"({"o":"c","t":"Thing","k":{"id":"caf\u00e9 \"q\""}})").ids ==
          ids_t{"caf\xc3\xa9 \"q\""});
  }
}

TEST_CASE("bc carries keys: objects, scalars or both", "[notify]") {
  SECTION("objects with id") {
    auto n = accepted(R"({"o":"bc","t":"Thing","keys":[{"id":"a"},{"id":"b"}]})");
    CHECK(n.op == notify_op::bulk_create);
    CHECK(n.ids == ids_t{"a", "b"});
  }
  SECTION("scalars") {
    CHECK(accepted(R"({"o":"bc","t":"Thing","keys":["a",2,"c"]})").ids == ids_t{"a", "2", "c"});
  }
  SECTION("mixed") {
    CHECK(accepted(R"({"o":"bc","t":"Thing","keys":[{"id":1},"b",{"id":"c"},4]})").ids ==
          ids_t{"1", "b", "c", "4"});
  }
  SECTION("duplicates are kept once, first occurrence order; 1 and \"1\" are the same id") {
    CHECK(accepted(R"({"o":"bc","t":"Thing","keys":["b","a",{"id":"b"},1,"1","a"]})").ids ==
          ids_t{"b", "a", "1"});
  }
}

TEST_CASE("bu/bd carry where.id: one value or an array", "[notify]") {
  SECTION("scalar string") {
    auto n = accepted(R"({"o":"bd","t":"Thing","where":{"id":"x"}})");
    CHECK(n.op == notify_op::bulk_destroy);
    CHECK(n.ids == ids_t{"x"});
  }
  SECTION("scalar number") {
    auto n = accepted(R"({"o":"bu","t":"Rule","where":{"id":9}})");
    CHECK(n.op == notify_op::bulk_update);
    CHECK(n.ids == ids_t{"9"});
  }
  SECTION("array, with a duplicate") {
    CHECK(accepted(R"({"o":"bd","t":"Thing","where":{"id":["x",2,"y","x",2]}})").ids ==
          ids_t{"x", "2", "y"});
  }
  SECTION("other where members are ignored") {
    CHECK(accepted(R"({"o":"bd","t":"Thing","where":{"tenant":"t","id":["x"]}})").ids ==
          ids_t{"x"});
  }
}

TEST_CASE("every op value maps to its notify_op - unknown ones are kept as other", "[notify]") {
  struct row {
    const char* o;
    notify_op op;
  };
  for (auto [o, op] : {row{"c", notify_op::create}, row{"u", notify_op::update},
                       row{"d", notify_op::destroy}, row{"bc", notify_op::bulk_create},
                       row{"bu", notify_op::bulk_update}, row{"bd", notify_op::bulk_destroy}}) {
    auto n = accepted(std::string(R"({"o":")") + o + R"(","t":"Thing","k":"1","keys":["1"],"where":{"id":"1"}})");
    CHECK(n.op == op);
    CHECK(n.ids == ids_t{"1"});
  }
  for (const char* o : {"x", "C", "BD", "cu", "upsert", " c"}) {
    auto n = accepted(std::string(R"({"o":")") + o + R"(","t":"Thing"})");
    CHECK(n.op == notify_op::other);
    CHECK(n.op_text == o);
    CHECK(n.ids.empty());
    CHECK_FALSE(n.ids_problem);  // no ids expected, so none missing
  }
}

TEST_CASE("malformed ids are an ids_problem, not a rejection of the message", "[notify]") {
  SECTION("c/u/d") {
    CHECK(ids_problem(R"({"o":"c","t":"Thing"})") == rejection::missing_id);
    CHECK(ids_problem(R"({"o":"u","t":"Thing","k":{}})") == rejection::missing_id);
    CHECK(ids_problem(R"({"o":"d","t":"Thing","k":{"ID":"x"}})") == rejection::missing_id);
    CHECK(ids_problem(R"({"o":"c","t":"Thing","k":""})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"c","t":"Thing","k":{"id":""}})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"c","t":"Thing","k":1.5})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"c","t":"Thing","k":{"id":1.0}})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"c","t":"Thing","k":{"id":1e3}})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"c","t":"Thing","k":true})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"c","t":"Thing","k":{"id":false}})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"c","t":"Thing","k":null})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"c","t":"Thing","k":{"id":null}})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"c","t":"Thing","k":["x"]})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"c","t":"Thing","k":{"id":["x"]}})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"c","t":"Thing","k":{"id":{"id":"x"}}})") == rejection::bad_id);
  }
  SECTION("bc") {
    CHECK(ids_problem(R"({"o":"bc","t":"Thing"})") == rejection::missing_id);
    CHECK(ids_problem(R"({"o":"bc","t":"Thing","keys":[]})") == rejection::missing_id);
    CHECK(ids_problem(R"({"o":"bc","t":"Thing","keys":"a"})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bc","t":"Thing","keys":{"id":"a"}})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bc","t":"Thing","keys":null})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bc","t":"Thing","keys":[{"x":1}]})") == rejection::missing_id);
    // one bad element spoils the message: applying the rest would hide the problem
    CHECK(ids_problem(R"({"o":"bc","t":"Thing","keys":["a",true]})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bc","t":"Thing","keys":["a",""]})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bc","t":"Thing","keys":["a",2.5]})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bc","t":"Thing","keys":["a",null]})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bc","t":"Thing","keys":[["a"]]})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bc","t":"Thing","keys":[{"id":{}}]})") == rejection::bad_id);
  }
  SECTION("bu/bd") {
    CHECK(ids_problem(R"({"o":"bd","t":"Thing"})") == rejection::missing_id);
    CHECK(ids_problem(R"({"o":"bd","t":"Thing","where":{}})") == rejection::missing_id);
    CHECK(ids_problem(R"({"o":"bu","t":"Thing","where":{"status":"on"}})") == rejection::missing_id);
    CHECK(ids_problem(R"({"o":"bd","t":"Thing","where":{"id":[]}})") == rejection::missing_id);
    CHECK(ids_problem(R"({"o":"bd","t":"Thing","where":"id=1"})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bd","t":"Thing","where":[{"id":1}]})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bd","t":"Thing","where":null})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bd","t":"Thing","where":{"id":null}})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bd","t":"Thing","where":{"id":""}})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bd","t":"Thing","where":{"id":0.5}})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bd","t":"Thing","where":{"id":true}})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bd","t":"Thing","where":{"id":{"$in":[1,2]}}})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bd","t":"Thing","where":{"id":[1,[2]]}})") == rejection::bad_id);
    CHECK(ids_problem(R"({"o":"bd","t":"Thing","where":{"id":[1,{"id":2}]}})") == rejection::bad_id);
  }
}

TEST_CASE("more ids than the limit is too_many_ids - duplicates count before dedup", "[notify]") {
  SECTION("default limit of 20000") {
    auto at_limit = accepted(R"({"o":"bd","t":"Thing","where":{"id":)" + number_array(20000) + "}}");
    CHECK(at_limit.ids.size() == 20000);
    CHECK(at_limit.ids.back() == "20000");
    CHECK(ids_problem(R"({"o":"bd","t":"Thing","where":{"id":)" + number_array(20001) + "}}") ==
          rejection::too_many_ids);
    CHECK(ids_problem(R"({"o":"bc","t":"Thing","keys":)" + number_array(20001) + "}") ==
          rejection::too_many_ids);
  }
  SECTION("a custom limit") {
    notify_limits limits;
    limits.max_ids = 3;
    CHECK(accepted(R"({"o":"bc","t":"Thing","keys":[1,2,3]})", limits).ids.size() == 3);
    CHECK(ids_problem(R"({"o":"bc","t":"Thing","keys":[1,2,3,4]})", limits) ==
          rejection::too_many_ids);
    CHECK(ids_problem(R"({"o":"bc","t":"Thing","keys":[1,1,1,1]})", limits) ==
          rejection::too_many_ids);
    CHECK(ids_problem(R"({"o":"bu","t":"Thing","where":{"id":[1,2,3,4]}})", limits) ==
          rejection::too_many_ids);
    limits.max_ids = 0;
    CHECK(ids_problem(R"({"o":"c","t":"Thing","k":"a"})", limits) == rejection::too_many_ids);
    CHECK(ids_problem(R"({"o":"bd","t":"Thing","where":{"id":"a"}})", limits) ==
          rejection::too_many_ids);
  }
}

TEST_CASE("the envelope: not JSON, not an object, o and t", "[notify]") {
  SECTION("not JSON") {
    for (std::string_view bad :
         {"", " ", "\n", "not json", "{", "}", "{\"o\":\"c\",\"t\":\"Thing\"", "{'o':'c','t':'Thing'}",
          "{\"o\":\"c\",\"t\":\"Thing\"} trailing", "{\"o\":\"c\",\"t\":\"Thing\"}{}",
          "{\"o\":\"c\",\"t\":\"Thing\",}", "{\"o\":\"c\" /* c */,\"t\":\"Thing\"}", "NaN",
          "{\"o\":\"c\",\"t\":\"Th\ting\"}"}) {
      CHECK(rejected(bad) == rejection::not_json);
    }
  }
  SECTION("binary garbage and invalid UTF-8") {
    using namespace std::string_literals;
    CHECK(rejected("\x00\x01\x02\xff"s) == rejection::not_json);
    CHECK(rejected("\x00"s) == rejection::not_json);
    CHECK(rejected("{\"o\":\"c\",\"t\":\"Thing\"}\x00"s) == rejection::not_json);
    CHECK(rejected("{\"o\":\"c\",\"t\":\"Thing\"}\x00{\"x\":1"s) == rejection::not_json);
    CHECK(rejected("{\"o\":\"c\",\"t\":\"Th\x00ing\"}"s) == rejection::not_json);
    CHECK(rejected("\xef\xbb\xbf\xff") == rejection::not_json);
    CHECK(rejected("{\"o\":\"c\",\"t\":\"Th\xffng\"}") == rejection::not_json);       // stray byte
    CHECK(rejected("{\"o\":\"c\",\"t\":\"Th\xc0\xafng\"}") == rejection::not_json);   // overlong '/'
    CHECK(rejected("{\"o\":\"c\",\"t\":\"Th\xed\xa0\x80g\"}") == rejection::not_json);  // surrogate
    CHECK(rejected("{\"o\":\"c\",\"t\":\"Th\xe2\x82\"}") == rejection::not_json);     // truncated
    CHECK(rejected(R"({"o":"c","t":"\ud800"})") == rejection::not_json);  // lone escaped surrogate
  }
  SECTION("valid JSON that is not an object") {
    for (std::string_view v : {"[]", "[{\"o\":\"c\",\"t\":\"Thing\"}]", "1", "-0.5", "\"c\"", "null",
                               "true", "false", "[1,2,3]"}) {
      CHECK(rejected(v) == rejection::not_object);
    }
  }
  SECTION("o") {
    CHECK(rejected("{}") == rejection::missing_o);
    CHECK(rejected(R"({"t":"Thing","k":"1"})") == rejection::missing_o);
    CHECK(rejected(R"({"O":"c","t":"Thing"})") == rejection::missing_o);
    CHECK(rejected(R"({"o":"","t":"Thing"})") == rejection::bad_o);
    CHECK(rejected(R"({"o":1,"t":"Thing"})") == rejection::bad_o);
    CHECK(rejected(R"({"o":null,"t":"Thing"})") == rejection::bad_o);
    CHECK(rejected(R"({"o":true,"t":"Thing"})") == rejection::bad_o);
    CHECK(rejected(R"({"o":["c"],"t":"Thing"})") == rejection::bad_o);
    CHECK(rejected(R"({"o":{"c":1},"t":"Thing"})") == rejection::bad_o);
    CHECK(rejected(R"({"o":1})") == rejection::bad_o);  // o is checked first
  }
  SECTION("t") {
    CHECK(rejected(R"({"o":"c"})") == rejection::missing_t);
    CHECK(rejected(R"({"o":"c","k":"1"})") == rejection::missing_t);
    CHECK(rejected(R"({"o":"c","t":""})") == rejection::bad_t);
    CHECK(rejected(R"({"o":"c","t":5})") == rejection::bad_t);
    CHECK(rejected(R"({"o":"c","t":null})") == rejection::bad_t);
    CHECK(rejected(R"({"o":"c","t":["Thing"]})") == rejection::bad_t);
    CHECK(rejected(R"({"o":"c","t":{"name":"Thing"}})") == rejection::bad_t);
  }
}

TEST_CASE("payloads over the size limit are refused before parsing", "[notify]") {
  SECTION("default limit, 1 MiB") {
    std::string big = R"({"o":"c","t":"Thing","k":"1","instance":{"pad":")";
    std::string tail = "\"}}";
    std::string at_limit = big + std::string(1048576 - big.size() - tail.size(), 'x') + tail;
    REQUIRE(at_limit.size() == 1048576);
    CHECK(accepted(at_limit).ids == ids_t{"1"});
    std::string over = big + std::string(1048577 - big.size() - tail.size(), 'x') + tail;
    CHECK(rejected(over) == rejection::too_large);
    CHECK(rejected(std::string(2 * 1048576, '\xff')) == rejection::too_large);
  }
  SECTION("a custom limit") {
    notify_limits limits;
    limits.max_payload_bytes = 10;
    CHECK(rejected(R"({"o":"c","t":"Thing"})", limits) == rejection::too_large);
    CHECK(rejected(R"({"o":"c"})", limits) == rejection::missing_t);  // 9 bytes
  }
}

TEST_CASE("deep nesting is refused without recursion", "[notify]") {
  CHECK(rejected(std::string(100000, '[')) == rejection::not_json);
  CHECK(rejected(repeat("[", 100000) + repeat("]", 100000)) == rejection::not_json);
  CHECK(rejected(repeat("{\"a\":", 100000) + "1" + repeat("}", 100000)) == rejection::not_json);
  notify_limits limits;  // too large beats too deep
  limits.max_payload_bytes = 1000;
  CHECK(rejected(std::string(100000, '['), limits) == rejection::too_large);

  // 64 levels in all (the message object is one) are fine, 65 are not
  auto nested = [](std::size_t levels) {
    return R"({"o":"c","t":"Thing","k":"1","instance":)" + repeat("[", levels) + repeat("]", levels) +
           "}";
  };
  CHECK(accepted(nested(63)).ids == ids_t{"1"});
  CHECK(rejected(nested(64)) == rejection::not_json);

  SECTION("brackets inside strings do not count, escaped quotes do not end a string") {
    auto in_string = R"({"o":"c","t":"Thing","k":"1","instance":{"s":")" + repeat("[{", 5000) +
                     R"(\"[[[\\"}})";
    CHECK(accepted(in_string).ids == ids_t{"1"});
  }
}

TEST_CASE("rejection names are stable and distinct", "[notify]") {
  const std::vector<std::pair<rejection, std::string_view>> names = {
      {rejection::too_large, "too_large"},       {rejection::not_json, "not_json"},
      {rejection::not_object, "not_object"},     {rejection::missing_o, "missing_o"},
      {rejection::bad_o, "bad_o"},               {rejection::missing_t, "missing_t"},
      {rejection::bad_t, "bad_t"},               {rejection::missing_id, "missing_id"},
      {rejection::bad_id, "bad_id"},             {rejection::too_many_ids, "too_many_ids"},
      {rejection::unknown_table, "unknown_table"}, {rejection::unhandled_op, "unhandled_op"}};
  std::set<std::string_view> seen;
  for (auto [r, name] : names) {
    CHECK(to_string(r) == name);
    seen.insert(to_string(r));
  }
  CHECK(seen.size() == names.size());
  CHECK(to_string(notify_op::bulk_destroy) == "bd");
  CHECK(to_string(action_kind::reload_all) == "reload_all");
}

TEST_CASE("routing a resource table", "[notify][route]") {
  struct row {
    const char* o;
    action_kind kind;
  };
  for (auto [o, kind] :
       {row{"c", action_kind::create}, row{"bc", action_kind::create}, row{"d", action_kind::destroy},
        row{"bd", action_kind::destroy}, row{"u", action_kind::update}, row{"bu", action_kind::update}}) {
    INFO("o = " << o);
    auto n = accepted(std::string(R"({"o":")") + o +
                      R"(","t":"Rule","k":{"id":"r1"},"keys":[{"id":"r1"},"r2"],"where":{"id":["r1","r2"]}})");
    auto actions = routed(n);
    REQUIRE(actions.size() == 1);
    CHECK(actions[0].kind == kind);
    CHECK(actions[0].resource == "Rule");
    CHECK(actions[0].ids == (n.op == notify_op::create || n.op == notify_op::update ||
                                     n.op == notify_op::destroy
                                 ? ids_t{"r1"}
                                 : ids_t{"r1", "r2"}));
  }

  SECTION("an op the orchestrator does not handle") {
    CHECK(route_rejected(accepted(R"({"o":"truncate","t":"Thing"})")) == rejection::unhandled_op);
  }
  SECTION("the ids problem becomes the rejection") {
    CHECK(route_rejected(accepted(R"({"o":"c","t":"Thing"})")) == rejection::missing_id);
    CHECK(route_rejected(accepted(R"({"o":"bd","t":"Thing","where":{"id":[1.5]}})")) ==
          rejection::bad_id);
    notify_limits limits;
    limits.max_ids = 1;
    CHECK(route_rejected(accepted(R"({"o":"bc","t":"Thing","keys":[1,2]})", limits)) ==
          rejection::too_many_ids);
  }
  SECTION("a hand-built notify without ids is refused, not routed empty") {
    notify n;
    n.op = notify_op::create;
    n.op_text = "c";
    n.table = "Thing";
    CHECK(route_rejected(n) == rejection::missing_id);
  }
  SECTION("table names are case-sensitive") {
    CHECK(route_rejected(accepted(R"({"o":"c","t":"thing","k":"1"})")) == rejection::unknown_table);
  }
}

TEST_CASE("routing a dependency table reloads its dependents for any op", "[notify][route]") {
  for (const char* msg : {R"({"o":"c","t":"ProtocolMeta","k":{"id":"p"}})",
                          R"({"o":"u","t":"ProtocolMeta","k":{"id":"p"}})",
                          R"({"o":"d","t":"ProtocolMeta"})",  // ids not needed
                          R"({"o":"bu","t":"ProtocolMeta","where":{"vendor":"x"}})",
                          R"({"o":"bd","t":"ProtocolMeta","where":{"id":1.5}})",
                          R"({"o":"bc","t":"ProtocolMeta","keys":[]})",
                          R"({"o":"whatever","t":"ProtocolMeta"})"}) {
    INFO(msg);
    auto actions = routed(accepted(msg));
    REQUIRE(actions.size() == 1);
    CHECK(actions[0] == resource_action{action_kind::reload_all, "Thing", {}});
  }

  SECTION("several dependents, each once, in config order") {
    routing_table t = sample_table();
    t.dependents["Tenant"] = {"Thing", "Rule", "Thing"};
    auto actions = routed(accepted(R"({"o":"d","t":"Tenant","k":"t"})"), t);
    REQUIRE(actions.size() == 2);
    CHECK(actions[0] == resource_action{action_kind::reload_all, "Thing", {}});
    CHECK(actions[1] == resource_action{action_kind::reload_all, "Rule", {}});
  }
  SECTION("a table that is both a resource and a dependency gets both") {
    routing_table t = sample_table();
    t.dependents["Thing"] = {"Rule"};
    auto actions = routed(accepted(R"({"o":"bc","t":"Thing","keys":["a","b"]})"), t);
    REQUIRE(actions.size() == 2);
    CHECK(actions[0] == resource_action{action_kind::create, "Thing", {"a", "b"}});
    CHECK(actions[1] == resource_action{action_kind::reload_all, "Rule", {}});
    // the resource part's rejection wins
    CHECK(route_rejected(accepted(R"({"o":"bc","t":"Thing"})"), t) == rejection::missing_id);
  }
}

TEST_CASE("routing an unknown table", "[notify][route]") {
  CHECK(route_rejected(accepted(R"({"o":"c","t":"Device","k":"1"})")) == rejection::unknown_table);
  CHECK(route_rejected(accepted(R"({"o":"zz","t":"Device"})")) == rejection::unknown_table);
  CHECK(route_rejected(accepted(R"({"o":"c","t":"Thing","k":"1"})"), routing_table{}) ==
        rejection::unknown_table);
}

TEST_CASE("random bytes and mutated notifies never throw", "[notify][fuzz]") {
  std::mt19937 rng(20240611);
  const std::vector<std::string> seeds = {
      R"({"o":"c","t":"Thing","k":{"id":"t-1"},"instance":{"id":"t-1","a":[1,2,{"b":null}]}})",
      R"({"o":"u","t":"Rule","k":17})",
      R"({"o":"bc","t":"Thing","keys":[{"id":1},"b",3]})",
      R"({"o":"bd","t":"Thing","where":{"id":["x",2,"y"]}})",
      R"({"o":"bu","t":"ProtocolMeta","where":{"id":5}})",
      R"({"o":"other","t":"DeviceMeta"})",
  };
  using namespace std::string_literals;
  const std::string alphabet = "{}[]\":,0123456789.-+eEtrufalsn\\ ocdkbhwiyT\x00\xff\xc3\xa9"s;
  routing_table table = sample_table();
  notify_limits limits;
  limits.max_ids = 3;
  limits.max_depth = 8;

  std::size_t thrown = 0, broken_invariants = 0, accepted_count = 0;
  auto run = [&](const std::string& input) {
    try {
      for (const auto& l : {notify_limits{}, limits}) {
        auto r = parse_notify(input, l);
        if (auto* n = std::get_if<notify>(&r)) {
          ++accepted_count;
          std::unordered_set<std::string> unique(n->ids.begin(), n->ids.end());
          bool ok = !n->op_text.empty() && !n->table.empty() && unique.size() == n->ids.size() &&
                    unique.count("") == 0 && n->ids.size() <= l.max_ids &&
                    (!n->ids_problem || n->ids.empty());
          if (!ok)
            ++broken_invariants;
          (void)route_notify(*n, table);
        }
      }
    } catch (...) {
      ++thrown;
    }
  };

  for (int i = 0; i < 10000; ++i) {
    std::string s(std::uniform_int_distribution<std::size_t>(0, 64)(rng), '\0');
    bool structured = i % 2 == 0;  // half from JSON-ish characters, so parsing gets further
    for (auto& c : s)
      c = structured ? alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(rng)]
                     : static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    run(s);
  }
  for (int i = 0; i < 10000; ++i) {
    std::string s = seeds[i % seeds.size()];
    int edits = std::uniform_int_distribution<int>(1, 4)(rng);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      std::size_t at = std::uniform_int_distribution<std::size_t>(0, s.size() - 1)(rng);
      char c = alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(rng)];
      switch (std::uniform_int_distribution<int>(0, 4)(rng)) {
        case 0: s[at] = c; break;
        case 1: s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), c); break;
        case 2: s.erase(at, 1); break;
        case 3: s.resize(at); break;
        default: s.insert(at, s.substr(at, 8)); break;  // duplicate a chunk
      }
    }
    run(s);
  }
  CHECK(thrown == 0);
  CHECK(broken_invariants == 0);
  CHECK(accepted_count > 0);  // the mutations keep some messages valid
}
