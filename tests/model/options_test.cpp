#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "model/options.hpp"

using namespace iota::model;
using nlohmann::json;

namespace {

resource_options opts(int init, int max, int rpi) { return resource_options{init, max, rpi}; }

}  // namespace

TEST_CASE("section 3 arithmetic at every boundary", "[options][planner]") {
  struct row {
    std::size_t count;
    resource_options options;
    int instances;
    int capacity;
  };
  // Each expected row is worked out by hand from the seed's makeOrchestration().
  const row rows[] = {
    {0, opts(10, 100, 5000), 10, 1},          // count 0: one instance, raised to init, cap 0/10+1
    {1, opts(10, 100, 5000), 10, 1},
    {5000, opts(10, 100, 5000), 10, 501},     // exact multiple: 5000/5000+1 = 2 < 10
    {49999, opts(10, 100, 5000), 10, 5000},   // 9+1 = 10, not below init
    {50000, opts(10, 100, 5000), 11, 5000},   // exact multiple: 10+1
    {495000, opts(10, 100, 5000), 100, 5000}, // 99 x 5000: 100 instances == max, allowed
    {499999, opts(10, 100, 5000), 100, 5000},
    {20000, opts(10, 100, 5000), 10, 2001},   // the defaults with 20,000 ids
    {4999, opts(10, 100, 4999), 10, 500},     // 1+1 = 2 < 10 -> 4999/10+1
    {9, opts(1, 100, 1), 10, 1},              // rpi 1: one instance per resource, +1
    {2, opts(10, 3, 1), 10, 1},               // 3 <= max: then raised to init above max (seed quirk)
    {50000, opts(20, 100, 5000), 20, 2501},   // init above the computed count
    {50000, opts(5, 100, 5000), 11, 5000},    // init below the computed count
    {200, opts(1, 99, 3), 67, 3},
    {98, opts(1, 99, 1), 99, 1},
    {10000, opts(10, 3, 4999), 10, 1001},     // 3 instances == max 3 is allowed, then init 10
  };
  for (auto& r : rows) {
    INFO("count " << r.count << " init " << r.options.init_instances << " max "
                  << r.options.max_instances << " rpi " << r.options.resource_per_instance);
    auto got = plan_instances(r.count, r.options);
    REQUIRE(std::holds_alternative<instance_plan>(got));
    CHECK(std::get<instance_plan>(got) == instance_plan{r.instances, r.capacity});
  }
}

TEST_CASE("over the max fails with the seed's exact error text", "[options][planner]") {
  struct row {
    std::size_t count;
    resource_options options;
    const char* error;
  };
  const row rows[] = {
    {500000, opts(10, 100, 5000), "require instances more than the max: 101/100"},
    {3, opts(1, 3, 1), "require instances more than the max: 4/3"},
    {297, opts(10, 99, 3), "require instances more than the max: 100/99"},
  };
  for (auto& r : rows) {
    auto got = plan_instances(r.count, r.options);
    REQUIRE(std::holds_alternative<std::string>(got));
    CHECK(std::get<std::string>(got) == r.error);
  }
}

TEST_CASE("config values out of range fall back to the default with a warning", "[options]") {
  struct row {
    std::optional<std::int64_t> init, max, rpi;
    resource_options expected;
    std::size_t warnings;
  };
  const row rows[] = {
    {std::nullopt, std::nullopt, std::nullopt, opts(10, 100, 5000), 0},
    {1, 3, 1, opts(1, 3, 1), 0},
    {10, 99, 4999, opts(10, 99, 4999), 0},
    {10, 100, 5000, opts(10, 100, 5000), 0},  // the defaults themselves: no warning
    {10, 2, 5000, opts(10, 100, 5000), 1},
    {10, 1000, 10000, opts(10, 100, 5000), 2},
    {0, 100, 0, opts(10, 100, 5000), 2},
    {-3, -1, -1, opts(10, 100, 5000), 3},
  };
  for (auto& r : rows) {
    auto got = normalize_options(r.init, r.max, r.rpi);
    CHECK(got.options.init_instances == r.expected.init_instances);
    CHECK(got.options.max_instances == r.expected.max_instances);
    CHECK(got.options.resource_per_instance == r.expected.resource_per_instance);
    CHECK(got.warnings.size() == r.warnings);
  }
  auto w = normalize_options(10, 2, 5000).warnings;
  REQUIRE(w.size() == 1);
  CHECK(w[0] == "maxInstances: 2 is out of range (3 <= maxInstances < 100), using 100");
}

TEST_CASE("orchestrate request bodies are validated option by option", "[options]") {
  const auto configured = opts(10, 100, 5000);
  auto ok = [&](const json& body) {
    auto r = parse_orchestrate_request(body, configured);
    REQUIRE(std::holds_alternative<orchestrate_request>(r));
    return std::get<orchestrate_request>(r);
  };
  auto refused = [&](const json& body) {
    auto r = parse_orchestrate_request(body, configured);
    REQUIRE(std::holds_alternative<std::string>(r));
    return std::get<std::string>(r);
  };
  CHECK(ok(json()).options.max_instances == 100);
  CHECK(ok(json::object()).options.resource_per_instance == 5000);
  auto r = ok(json{{"maxInstances", 50}, {"resourcePerInstance", 100}});
  CHECK(r.options.max_instances == 50);
  CHECK(r.options.resource_per_instance == 100);
  CHECK(r.options.init_instances == 10);
  CHECK_FALSE(r.dry_run);
  CHECK(ok(json{{"dryRun", true}}).dry_run);
  CHECK(ok(json{{"maxInstances", 3}}).options.max_instances == 3);
  CHECK(ok(json{{"maxInstances", 99}}).options.max_instances == 99);
  CHECK(ok(json{{"resourcePerInstance", 1}}).options.resource_per_instance == 1);
  CHECK(ok(json{{"resourcePerInstance", 4999}}).options.resource_per_instance == 4999);

  CHECK(refused(json{{"maxInstances", 2}}) ==
        "maxInstances must be an integer with 3 <= maxInstances < 100, got 2");
  CHECK(refused(json{{"maxInstances", 100}}).find("3 <= maxInstances < 100") != std::string::npos);
  CHECK(refused(json{{"maxInstances", "50"}}) ==
        "maxInstances must be an integer with 3 <= maxInstances < 100, got \"50\"");
  CHECK(refused(json{{"maxInstances", 50.5}}).find("maxInstances") != std::string::npos);
  CHECK(refused(json{{"maxInstances", nullptr}}).find("maxInstances") != std::string::npos);
  CHECK(refused(json{{"resourcePerInstance", 0}}) ==
        "resourcePerInstance must be an integer with 0 < resourcePerInstance < 5000, got 0");
  CHECK(refused(json{{"resourcePerInstance", 5000}}).find("resourcePerInstance") != std::string::npos);
  CHECK(refused(json{{"resourcePerInstance", 18446744073709551615ull}}).find("resourcePerInstance") !=
        std::string::npos);
  CHECK(refused(json{{"resourcePerInstance", -1}}).find("resourcePerInstance") != std::string::npos);
  CHECK(refused(json{{"initInstances", 0}}).find("initInstances") != std::string::npos);
  CHECK(refused(json{{"initInstances", 1001}}).find("initInstances") != std::string::npos);
  CHECK(refused(json{{"maxInstance", 50}}).find("unknown option \"maxInstance\"") != std::string::npos);
  CHECK(refused(json{{"dryRun", "yes"}}).find("dryRun") != std::string::npos);
  CHECK(refused(json::array({1, 2})).find("JSON object") != std::string::npos);
  CHECK(refused(json("text")).find("JSON object") != std::string::npos);
}
