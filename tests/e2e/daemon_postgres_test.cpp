// The daemon with a PostgreSQL inventory (SPEC sections 8, 13): orchestrate places exactly the
// table's ids in ZooKeeper; a database outage is a clear 503, and the next call works again.
#include <catch2/catch.hpp>

#include <future>
#include <set>

#include <nlohmann/json.hpp>

#include "io/zookeeper_store.hpp"
#include "model/orchestration.hpp"
#include "model/zk_layout.hpp"
#include "tests/fixtures/daemon_process.hpp"
#include "tests/fixtures/http_client.hpp"
#include "tests/fixtures/mosquitto_server.hpp"
#include "tests/fixtures/postgres_server.hpp"
#include "tests/fixtures/process.hpp"
#include "tests/fixtures/zookeeper_reader.hpp"
#include "tests/fixtures/zookeeper_server.hpp"

using namespace iota;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string secret = "pgSecret42";  // trust auth accepts and ignores it

struct pg_e2e {
  test::zookeeper_server zk;
  test::mosquitto_server broker;
  test::postgres_server pg;
  test::zookeeper_reader reader{zk.hosts()};
  std::unique_ptr<test::daemon_process> daemon;  // stopped before the reader closes

  // No `query`: the daemon's default, SELECT id FROM "Thing".
  void start_daemon(const std::string& inventory_yaml) {
    test::daemon_options o;
    o.zookeeper = zk.hosts();
    o.mqtt_url = broker.url();
    o.with_rule = false;
    o.init_instances = 4;
    o.thing_inventory_yaml = inventory_yaml;
    daemon = std::make_unique<test::daemon_process>(o);
    daemon->start();
    REQUIRE(test::wait_until(
      [&] { return test::http_request(daemon->http_port(), "GET", "/readyz").status == 200; },
      120s));
  }

  test::http_result orchestrate() {
    return test::http_request(daemon->http_port(), "POST",
                              "/v1/api/orchestrations/Thing/orchestrate");
  }

  // Every placed id, as a fresh reader of the znodes sees them; no id on two instances.
  std::multiset<std::string> placed() {
    std::promise<model::fetched_instances> p;
    auto f = p.get_future();
    reader->fetch_instances(model::resource_path("Thing"),
                            [&p](model::fetched_instances r) { p.set_value(std::move(r)); });
    REQUIRE(f.wait_for(60s) == std::future_status::ready);
    auto r = f.get();
    REQUIRE(r.rc == io::zk_ok);
    std::multiset<std::string> ids;
    for (auto& [n, inst] : r.instances)
      for (const auto& id : inst.ids)
        ids.insert(id);
    return ids;
  }

  std::multiset<std::string> table() {
    std::multiset<std::string> ids;
    for (auto& row : pg.query("SELECT id FROM \"Thing\""))
      if (row[0])
        ids.insert(*row[0]);
    return ids;
  }
};

}  // namespace

TEST_CASE_METHOD(pg_e2e, "orchestrate places exactly the ids of the PostgreSQL table \"Thing\"",
                 "[e2e][postgres]") {
  pg.exec(R"(CREATE TABLE "Thing" (id text, model text);
             INSERT INTO "Thing" SELECT 'pg-thing-' || g, 'm' FROM generate_series(1, 1200) g;
             INSERT INTO "Thing" VALUES (NULL, 'broken');
             CREATE TABLE thing (id text); INSERT INTO thing VALUES ('not-this-table');)");
  start_daemon("{ postgres: \"" + pg.conninfo() + " password=" + secret + "\" }");

  auto r = orchestrate();
  INFO(r.body);
  REQUIRE(r.status == 200);
  auto body = json::parse(r.body);
  CHECK(body["orchestrateSuccess"] == true);
  CHECK(body["resources"] == 1200);
  auto want = table();
  REQUIRE(want.size() == 1200);
  CHECK(placed() == want);

  // The table changes (deletes and creates the notifies missed): orchestrate follows it.
  pg.exec(R"(DELETE FROM "Thing" WHERE id LIKE 'pg-thing-1%';
             INSERT INTO "Thing" SELECT 'pg-new-' || g, 'm' FROM generate_series(1, 300) g;)");
  r = orchestrate();
  INFO(r.body);
  REQUIRE(r.status == 200);
  want = table();
  CHECK(want.size() == 1200 - 312 + 300);  // 1, 10-19, 100-199, 1000-1200 are gone
  CHECK(json::parse(r.body)["resources"] == want.size());
  CHECK(placed() == want);

  // The database down: a clear error naming the source, never the password; znodes kept.
  pg.stop();
  r = orchestrate();
  CHECK(r.status == 503);
  CHECK_THAT(r.body, Catch::Contains("postgres host=127.0.0.1") &&
                       Catch::Contains("connect failed") && Catch::Contains("password=***"));
  CHECK(r.body.find(secret) == std::string::npos);
  CHECK(placed() == want);

  // Back up: the next orchestrate reconnects by itself.
  pg.start();
  pg.exec(R"(INSERT INTO "Thing" VALUES ('pg-after-restart', 'm'))");
  r = orchestrate();
  INFO(r.body);
  REQUIRE(r.status == 200);
  want = table();
  CHECK(placed() == want);
  CHECK(want.count("pg-after-restart") == 1);

  auto log = daemon->log();
  CHECK(log.find(secret) == std::string::npos);
  CHECK(log.find("skipped 1 NULL id") != std::string::npos);
  CHECK(log.find("(inventory postgres host=127.0.0.1") != std::string::npos);
}

TEST_CASE_METHOD(pg_e2e, "a conninfo libpq cannot parse stops the daemon at start",
                 "[e2e][postgres][config]") {
  test::daemon_options o;
  o.zookeeper = zk.hosts();
  o.mqtt_url = broker.url();
  o.with_rule = false;
  o.thing_inventory_yaml = "{ postgres: \"host=127.0.0.1 password=" + secret + " bogus\" }";
  test::daemon_process d{o};
  CHECK_THROWS_WITH(d.start(), Catch::Contains("config: resources[Thing].inventory.postgres:") &&
                                 Catch::Contains("invalid conninfo") &&
                                 !Catch::Contains(secret));
  CHECK_FALSE(d.running());
}
