#include <catch2/catch.hpp>

#include "model/text.hpp"

TEST_CASE("trim drops leading and trailing whitespace only", "[text]") {
  using iota::model::trim;
  CHECK(trim("  a b \t\r\n") == "a b");
  CHECK(trim("\n\n").empty());
  CHECK(trim("").empty());
  CHECK(trim("x") == "x");
}
