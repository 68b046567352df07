// decode_instances: what a fetch read becomes, and every problem it reports.
#include <catch2/catch.hpp>

#include "model/instance_znodes.hpp"
#include "model/zk_layout.hpp"

using namespace iota::model;

namespace {

const std::string root = "/iota/orchestration/Thing";

instance_znodes good(instance_id id, std::vector<std::string> ids, int count = 10) {
  return instance_znodes{id,
                         {znode_read{true, encode_instance_data(ids.size(), count), 2},
                          znode_read{true, encode_reload(4), 5},
                          znode_read{true, encode_resources(ids), 7}}};
}

}  // namespace

TEST_CASE("decoded instances keep their ids, count, times and versions", "[instance_znodes]") {
  auto f = decode_instances(root, {good(0, {"a", "b"}), good(3, {})});
  CHECK(f.rc == 0);
  CHECK(f.problems.empty());
  REQUIRE(f.instances.size() == 2);
  auto& i0 = f.instances.at(0);
  CHECK(i0.capacity == 10);
  CHECK(i0.reload_times == 4);
  CHECK(i0.ids == std::vector<std::string>{"a", "b"});
  CHECK(i0.versions == znode_versions{2, 5, 7});
  CHECK(f.instances.at(3).ids.empty());
}

TEST_CASE("an instance missing a znode is skipped and reported", "[instance_znodes]") {
  auto partial = good(1, {"x"});
  partial.nodes[2] = znode_read{};
  auto f = decode_instances(root, {partial, good(2, {"y"})});
  CHECK(f.instances.count(1) == 0);
  CHECK(f.instances.count(2) == 1);
  REQUIRE(f.problems.size() == 1);
  CHECK(f.problems[0].rfind(resources_path(root, 1) + ": no node", 0) == 0);
}

TEST_CASE("undecodable znodes are listed with capacity 0, times 0, no ids", "[instance_znodes]") {
  auto bad = good(5, {"z"});
  bad.nodes[0].data = "not json";
  bad.nodes[1].data = "{\"times\":\"x\"}";
  bad.nodes[2].data = "{\"ids\":[{}]}";
  auto f = decode_instances(root, {bad});
  REQUIRE(f.instances.count(5) == 1);
  auto& inst = f.instances.at(5);
  CHECK(inst.capacity == 0);
  CHECK(inst.reload_times == 0);
  CHECK(inst.ids.empty());
  CHECK(inst.versions == znode_versions{2, 5, 7});  // so the next write replaces it
  REQUIRE(f.problems.size() == 3);
  CHECK(f.problems[0] == instance_path(root, 5) + ": cannot decode instance data \"not json\"; capacity 0 (unknown)");
  CHECK(f.problems[1].rfind(reload_path(root, 5) + ": cannot decode ", 0) == 0);
  CHECK(f.problems[2].rfind(resources_path(root, 5) + ": cannot decode ", 0) == 0);
}

TEST_CASE("a negative count does not decode", "[instance_znodes]") {
  auto neg = good(0, {});
  neg.nodes[0].data = "{\"used\":0,\"count\":-3}";
  auto f = decode_instances(root, {neg});
  CHECK(f.instances.at(0).capacity == 0);
  CHECK(f.problems.size() == 1);
}
