// The decision history end to end (SPEC 14): the daemon with real ZooKeeper and mosquitto;
// GET /v1/api/events with its filters and errors, and the lookup's `history` for ids placed
// by an orchestrate (1,500 per instance: most of them not listed in the decision) and by a
// notify, removed by a notify, and a dropped notify.
#include <catch2/catch.hpp>

#include <regex>

#include <nlohmann/json.hpp>

#include "tests/fixtures/daemon_process.hpp"
#include "tests/fixtures/http_client.hpp"
#include "tests/fixtures/mosquitto_server.hpp"
#include "tests/fixtures/process.hpp"
#include "tests/fixtures/zookeeper_server.hpp"

using namespace iota;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct history_fixture {
  test::zookeeper_server zk;
  test::mosquitto_server broker;
  std::unique_ptr<test::daemon_process> daemon;

  history_fixture() {
    auto o = test::small_daemon(zk.hosts(), broker.url(), 3000, 0);
    o.with_rule = false;
    daemon = std::make_unique<test::daemon_process>(o);
    daemon->start();
  }

  json get(const std::string& target, int expected) {
    auto r = test::http_request(daemon->http_port(), "GET", target);
    INFO(target << " -> " << r.status << " " << r.body);
    REQUIRE(r.status == expected);
    return json::parse(r.body);
  }

  json events(const std::string& query) { return get("/v1/api/events" + query, 200)["events"]; }
};

const std::regex iso_time{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"};

}  // namespace

TEST_CASE_METHOD(history_fixture, "the decision history: why each id is where it is, and the events with their filters",
                 "[e2e][history]") {
  // A new leader's history starts with its leadership.
  auto leadership = events("?resource=Thing&kind=leadership");
  REQUIRE(leadership.size() >= 1);
  CHECK(leadership.back()["cause"] == "gained");

  REQUIRE(test::http_request(daemon->http_port(), "POST", "/v1/api/orchestrations/Thing/orchestrate").status == 200);
  // thing-2999 is on instance 1 with 1,499 others: the decision lists 100 ids and counts 1,500.
  auto bulk = get("/v1/api/orchestrations/Thing/thing-2999/instances", 200);
  REQUIRE(bulk["history"].size() >= 1);
  auto why = bulk["history"][0];
  CHECK(why["kind"] == "placed");
  CHECK(why["cause"] == "orchestrate");
  CHECK(why["instance"] == bulk["runIn"]);
  CHECK(why["count"] == 1500);
  CHECK(why["ids"].size() == 100);
  CHECK(std::regex_match(why["time"].get<std::string>(), iso_time));
  auto orchestrates = events("?kind=orchestrate");
  REQUIRE(orchestrates.size() == 3);  // newest first
  CHECK(orchestrates[0]["detail"].get<std::string>().rfind("finished: 2 instances, 3000 resources", 0) == 0);
  CHECK(orchestrates[1]["detail"].get<std::string>().rfind("started: ", 0) == 0);
  CHECK(orchestrates[0]["seq"] > orchestrates[1]["seq"]);
  // SPEC 15: the accepted write itself, with who and from where.
  CHECK(orchestrates[2]["cause"] == "api");
  CHECK(std::regex_match(orchestrates[2]["detail"].get<std::string>(),
                         std::regex(R"(requested by anonymous from 127\.0\.0\.1:\d+: POST /v1/api/orchestrations/Thing/orchestrate)")));

  // A create notify places a new id; a delete notify removes an orchestrated one; garbage is dropped.
  test::mqtt_publish(broker.url(), "cm/notify",
                     {R"({"o":"c","t":"Thing","k":{"id":"fresh-1"},"instance":{"id":"fresh-1"}})",
                      R"({"o":"d","t":"Thing","k":{"id":"thing-5"}})", "not json at all"});
  REQUIRE(test::wait_until([&] {
    return test::http_request(daemon->http_port(), "GET", "/v1/api/orchestrations/Thing/fresh-1/instances").status == 200 &&
           !events("?id=thing-5&kind=removed").empty() && !events("?kind=dropped").empty();
  }, 60s));
  auto fresh = get("/v1/api/orchestrations/Thing/fresh-1/instances", 200);
  REQUIRE(fresh["history"].size() == 1);
  CHECK(fresh["history"][0]["kind"] == "placed");
  CHECK(fresh["history"][0]["cause"] == "notify");
  CHECK(fresh["history"][0]["instance"] == fresh["runIn"]);
  CHECK(fresh["history"][0]["ids"] == json::array({"fresh-1"}));
  CHECK(fresh["history"][0]["count"] == 1);

  auto removed = events("?resource=Thing&id=thing-5");
  REQUIRE(removed.size() == 2);  // the delete, then the orchestrate that placed it (it lists thing-5)
  CHECK(removed[0]["kind"] == "removed");
  CHECK(removed[0]["cause"] == "notify");
  CHECK(removed[0]["instance"] == "0");
  CHECK(removed[1]["cause"] == "orchestrate");
  get("/v1/api/orchestrations/Thing/thing-5/instances", 404);

  auto dropped = events("?kind=dropped");
  REQUIRE(dropped.size() == 1);
  CHECK_FALSE(dropped[0].contains("resource"));  // its type was never known
  CHECK_FALSE(dropped[0]["cause"].get<std::string>().empty());

  // Filters: instance, limit; the newest first.
  auto on_one = events("?instance=1&kind=placed");
  REQUIRE(!on_one.empty());
  for (auto& e : on_one)
    CHECK(e["instance"] == "1");
  auto last_two = events("?limit=2");
  REQUIRE(last_two.size() == 2);
  CHECK(last_two[0]["seq"] > last_two[1]["seq"]);

  // Errors: a bad filter is named (400), an unknown type is 404, only GET.
  CHECK(get("/v1/api/events?limit=0", 400)["error"].get<std::string>().find("limit") == 0);
  CHECK(get("/v1/api/events?limit=10001", 400)["error"].get<std::string>().find("limit") == 0);
  CHECK(get("/v1/api/events?instance=x", 400)["error"].get<std::string>().find("instance") == 0);
  CHECK(get("/v1/api/events?kind=exploded", 400)["error"].get<std::string>().find("kind") == 0);
  CHECK(get("/v1/api/events?colour=red", 400)["error"].get<std::string>().find("colour") != std::string::npos);
  CHECK(get("/v1/api/events?resource=Nope", 404)["error"].get<std::string>().find("Nope") != std::string::npos);
  CHECK(test::http_request(daemon->http_port(), "POST", "/v1/api/events").status == 405);

  // Every decision is also a log line.
  CHECK(daemon->count_in_log("history[Thing] placed instance [") >= 3);
  CHECK(daemon->count_in_log("history[-] dropped") == 1);
}
