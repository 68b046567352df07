#include <catch2/catch.hpp>

#include "model/zk_layout.hpp"

using namespace iota::model;

TEST_CASE("paths follow section 2", "[zk_layout]") {
  auto root = resource_path("Thing");
  CHECK(root == "/iota/orchestration/Thing");
  CHECK(instance_path(root, 0) == "/iota/orchestration/Thing/0");
  CHECK(tmp_path(root, 12) == "/iota/orchestration/Thing/12/tmp");
  CHECK(reload_path(root, 3) == "/iota/orchestration/Thing/3/_reload");
  CHECK(resources_path(root, 3) == "/iota/orchestration/Thing/3/resources");
}

TEST_CASE("instance names are canonical non-negative integers", "[zk_layout]") {
  CHECK(parse_instance_name("0") == 0);
  CHECK(parse_instance_name("12") == 12);
  CHECK(parse_instance_name("999999999") == 999999999);
  for (auto bad : {"", "012", "-1", "x", "1a", " 1", "1000000000", "tmp"})
    CHECK_FALSE(parse_instance_name(bad).has_value());
}

TEST_CASE("data bytes are exactly what the original writes", "[zk_layout]") {
  CHECK(encode_instance_data(1, 5000) == R"({"used":1,"count":5000})");
  CHECK(encode_instance_data(0, 2001) == R"({"used":0,"count":2001})");
  CHECK(encode_reload(3) == R"({"times":3})");
  CHECK(encode_reload(0) == R"({"times":0})");
  CHECK(encode_resources({"a", "b"}) == R"({"ids":["a","b"]})");
  CHECK(encode_resources({}) == R"({"ids":[]})");
  CHECK(encode_tmp().empty());
  // JSON.stringify escapes: quote, backslash, the short forms, other controls as \u00xx;
  // non-ASCII UTF-8 and '/' stay as they are.
  CHECK(encode_resources({"q\"b\\s/", "\n\t\r\b\f", std::string{"\x01\x1f", 2}, "设备-é"}) ==
        "{\"ids\":[\"q\\\"b\\\\s/\",\"\\n\\t\\r\\b\\f\",\"\\u0001\\u001f\",\"设备-é\"]}");
}

TEST_CASE("decoders accept the original's bytes and tolerate key order and numbers", "[zk_layout]") {
  auto d = decode_instance_data(R"({"used":4000,"count":5000})");
  REQUIRE(d);
  CHECK(d->used == 4000);
  CHECK(d->count == 5000);
  auto swapped = decode_instance_data(R"( { "count" : 7 , "used" : 2, "x": [1] } )");
  REQUIRE(swapped);
  CHECK(swapped->used == 2);
  CHECK(swapped->count == 7);
  CHECK(decode_reload(R"({"times":42})") == 42);
  auto ids = decode_resources(R"({"ids":["a",7,"c"]})");
  REQUIRE(ids);
  CHECK(*ids == std::vector<std::string>{"a", "7", "c"});
}

TEST_CASE("decoders refuse what is not that shape", "[zk_layout]") {
  for (auto bad : {"", "null", "[]", "{", R"({"used":1})", R"({"used":"1","count":2})",
                   R"({"used":1.5,"count":2})", "\xff\xfe"})
    CHECK_FALSE(decode_instance_data(bad).has_value());
  for (auto bad : {"", "{}", R"({"times":"3"})", R"({"times":null})"})
    CHECK_FALSE(decode_reload(bad).has_value());
  for (auto bad : {"", "{}", R"({"ids":"a"})", R"({"ids":[null]})", R"({"ids":[1.5]})",
                   R"({"ids":[{"id":"a"}]})"})
    CHECK_FALSE(decode_resources(bad).has_value());
}

TEST_CASE("encode and decode round-trip", "[zk_layout]") {
  std::vector<std::string> ids;
  for (int i = 0; i < 5000; ++i)
    ids.push_back("id-" + std::to_string(i) + (i % 7 == 0 ? "\"\\\n" : ""));
  auto back = decode_resources(encode_resources(ids));
  REQUIRE(back);
  CHECK(*back == ids);
  auto d = decode_instance_data(encode_instance_data(123, 456));
  REQUIRE(d);
  CHECK(d->used == 123);
  CHECK(d->count == 456);
  CHECK(decode_reload(encode_reload(987654321)) == 987654321);
}
