#include <catch2/catch.hpp>

#include "model/duration.hpp"

using namespace std::chrono_literals;
using iota::model::format_duration;
using iota::model::parse_duration;

TEST_CASE("durations parse in ms, s, m and h", "[duration]") {
  CHECK(parse_duration("500ms") == 500ms);
  CHECK(parse_duration("90s") == 90s);
  CHECK(parse_duration("10m") == 10min);
  CHECK(parse_duration("1h") == 1h);
  CHECK(parse_duration("0s") == 0ms);
}

TEST_CASE("malformed durations are refused", "[duration]") {
  for (auto bad : {"", "s", "10", "10 s", "-5s", "1.5s", "10sec", "9999999999999999999h", "5d"})
    CHECK_FALSE(parse_duration(bad).has_value());
}

TEST_CASE("durations format to their shortest exact spelling", "[duration]") {
  CHECK(format_duration(90s) == "90s");
  CHECK(format_duration(10min) == "10m");
  CHECK(format_duration(1500ms) == "1500ms");
  CHECK(format_duration(2h) == "2h");
  CHECK(format_duration(0ms) == "0s");
  for (std::chrono::milliseconds d : {1ms, 999ms, 61000ms, 3600000ms, 7200001ms})
    CHECK(parse_duration(format_duration(d)) == d);
}
