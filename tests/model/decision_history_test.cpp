#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "model/decision_history.hpp"

using namespace iota::model;

namespace {

decision make(const std::string& resource, const std::string& kind, const std::string& instance,
              std::vector<std::string> ids, const std::string& cause = "notify") {
  decision d;
  d.time_ms = 1767225600123;  // 2026-01-01T00:00:00.123Z
  d.resource = resource;
  d.kind = kind;
  d.instance = instance;
  d.ids = std::move(ids);
  d.cause = cause;
  return d;
}

}  // namespace

TEST_CASE("decision history: newest first across types, filtered by type, instance, id and kind", "[unit][history]") {
  decision_history h;
  auto a = h.record(make("Thing", "placed", "0", {"t1"}));
  auto b = h.record(make("Rule", "placed", "0", {"r1"}));
  auto c = h.record(make("Thing", "restart", "1", {}, "heartbeat"));
  auto d = h.record(make("Thing", "removed", "0", {"t1"}));
  CHECK(a < b);
  CHECK(b < c);
  CHECK(c < d);
  auto all = h.query({});
  REQUIRE(all.size() == 4);
  CHECK(all[0].seq == d);
  CHECK(all[3].seq == a);
  decision_filter thing;
  thing.resource = "Thing";
  CHECK(h.query(thing).size() == 3);
  decision_filter by_id;
  by_id.id = "t1";
  auto t1 = h.query(by_id);
  REQUIRE(t1.size() == 2);
  CHECK(t1[0].kind == "removed");
  decision_filter by_instance;
  by_instance.instance = "1";
  REQUIRE(h.query(by_instance).size() == 1);
  CHECK(h.query(by_instance)[0].cause == "heartbeat");
  decision_filter by_kind;
  by_kind.kind = "placed";
  by_kind.limit = 1;
  auto placed = h.query(by_kind);
  REQUIRE(placed.size() == 1);
  CHECK(placed[0].seq == b);
}

TEST_CASE("decision history: a ring per type, ids listed up to 100 with their count", "[unit][history]") {
  decision_history h{3};
  for (int i = 0; i < 5; ++i)
    h.record(make("Thing", "placed", "0", {"t" + std::to_string(i)}));
  h.record(make("Rule", "placed", "0", {"r"}));
  CHECK(h.size() == 4);  // 3 Things, 1 Rule
  std::vector<std::string> many;
  for (int i = 0; i < 250; ++i)
    many.push_back("id" + std::to_string(i));
  decision_history big;
  big.record(make("Thing", "placed", "2", many, "orchestrate"));
  auto d = big.query({})[0];
  CHECK(d.ids.size() == 100);
  CHECK(d.count == 250);
}

TEST_CASE("decision history: why an id is where it is, also when a bulk decision names it only by count",
          "[unit][history]") {
  decision_history h{4};
  std::vector<std::string> bulk(400, "x");
  bulk[0] = "first";
  auto orchestrated = h.record(make("Thing", "placed", "3", bulk, "orchestrate"));
  auto created = h.record(make("Thing", "placed", "1", {"new"}, "notify"));
  // The bulk decision (400 ids, 100 listed) leaves the ring; it is kept for the lookups.
  for (int i = 0; i < 6; ++i)
    h.record(make("Thing", "restart", "0", {}, "heartbeat"));
  auto why = h.about("Thing", "id-399", orchestrated);
  REQUIRE(why.size() == 1);
  CHECK(why[0].cause == "orchestrate");
  CHECK(why[0].instance == "3");
  CHECK(why[0].count == 400);
  // A single-id decision that left the ring is gone; an unknown seq finds nothing.
  CHECK(h.about("Thing", "new", created).empty());
  CHECK(h.about("Thing", "other", 0).empty());
}

TEST_CASE("decision history: the JSON of an event leaves out what does not apply", "[unit][history]") {
  decision_history h;
  h.record(make("Thing", "restart", "3", {}, "heartbeat"));
  auto d = h.query({})[0];
  d.detail = "no heartbeat for 90 s";
  auto j = nlohmann::json::parse(to_json(d));
  CHECK(j["time"] == "2026-01-01T00:00:00.123Z");
  CHECK(j["kind"] == "restart");
  CHECK(j["instance"] == "3");
  CHECK(j["cause"] == "heartbeat");
  CHECK(j["detail"] == "no heartbeat for 90 s");
  CHECK_FALSE(j.contains("ids"));
  CHECK_FALSE(j.contains("count"));
  h.record(make("Thing", "placed", "0", {"a", "b"}));
  auto p = nlohmann::json::parse(to_json(h.query({})[0]));
  CHECK(p["ids"] == nlohmann::json::array({"a", "b"}));
  CHECK(p["count"] == 2);
}

TEST_CASE("decision history: the events filter is parsed, a bad one named", "[unit][history]") {
  std::string error;
  auto f = parse_decision_filter({{"resource", "Thing"}, {"instance", "03"}, {"id", "a b"}, {"kind", "restart"},
                                  {"limit", "5"}}, error);
  REQUIRE(f);
  CHECK(f->resource == "Thing");
  CHECK(f->instance == "3");
  CHECK(f->id == "a b");
  CHECK(f->kind == "restart");
  CHECK(f->limit == 5);
  CHECK(parse_decision_filter({}, error)->limit == 100);
  CHECK_FALSE(parse_decision_filter({{"limit", "0"}}, error));
  CHECK(error.find("limit") == 0);
  CHECK_FALSE(parse_decision_filter({{"limit", "10001"}}, error));
  CHECK_FALSE(parse_decision_filter({{"instance", "-1"}}, error));
  CHECK(error.find("instance") == 0);
  CHECK_FALSE(parse_decision_filter({{"kind", "exploded"}}, error));
  CHECK(error.find("kind") == 0);
  CHECK_FALSE(parse_decision_filter({{"colour", "red"}}, error));
  CHECK(error.find("unknown filter \"colour\"") == 0);
}
