#include <catch2/catch.hpp>

#include <algorithm>

#include "model/reconcile.hpp"
#include "model/with_instances.hpp"

using namespace iota::model;

namespace {

orchestration layout(std::map<instance_id, std::vector<std::string>> l, int capacity = 10) {
  return iota::test::with_instances(std::move(l), capacity);
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("reconcile: creates what the inventory has and no instance holds, deletes what it lost") {
  auto orch = layout({{0, {"a", "b"}}, {1, {"c", "gone"}}});
  auto d = diff_inventory({"a", "b", "c", "new1", "new2"}, orch);
  CHECK(d.to_create == std::vector<std::string>{"new1", "new2"});
  CHECK(d.to_delete == std::vector<std::string>{"gone"});
}

TEST_CASE("reconcile: in step means nothing to do, and duplicates and blanks in the inventory are ignored") {
  auto orch = layout({{0, {"a"}}, {1, {"b"}}});
  auto d = diff_inventory({"b", "a", "a", "", "b"}, orch);
  CHECK(d.to_create.empty());
  CHECK(d.to_delete.empty());
  auto dup = diff_inventory({"x", "x", ""}, orch);
  CHECK(dup.to_create == std::vector<std::string>{"x"});
  CHECK(sorted(dup.to_delete) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("reconcile: an empty inventory deletes every placed id, and an empty orchestration creates all") {
  auto orch = layout({{0, {"a", "b"}}, {3, {}}});
  CHECK(sorted(diff_inventory({}, orch).to_delete) == std::vector<std::string>{"a", "b"});
  auto none = layout({});
  CHECK(diff_inventory({"p", "q"}, none).to_create == std::vector<std::string>{"p", "q"});
}

TEST_CASE("reconcile: ids a notify changed after the snapshot was started are not undone") {
  // "late" was created by a notify after the inventory was read: placed, not in the
  // snapshot, must stay. "dropped" was deleted by a notify meanwhile: in the snapshot, on no
  // instance, must not come back.
  auto orch = layout({{0, {"a", "late"}}, {1, {"old"}}});
  auto d = diff_inventory({"a", "dropped", "fresh"}, orch, {"late"}, {"dropped"});
  CHECK(d.to_create == std::vector<std::string>{"fresh"});
  CHECK(d.to_delete == std::vector<std::string>{"old"});
  // Without the guards the same snapshot would undo both notifies.
  auto naive = diff_inventory({"a", "dropped", "fresh"}, orch);
  CHECK(naive.to_create == std::vector<std::string>{"dropped", "fresh"});
  CHECK(sorted(naive.to_delete) == std::vector<std::string>{"late", "old"});
}

TEST_CASE("reconcile: a large inventory diff is exact") {
  std::vector<std::string> inv;
  std::map<instance_id, std::vector<std::string>> l;
  for (int i = 0; i < 20000; ++i) {
    auto id = "r" + std::to_string(i);
    if (i % 3 != 0)
      inv.push_back(id);          // two thirds in the inventory
    if (i % 2 == 0)
      l[i % 7].push_back(id);     // half placed
  }
  auto orch = layout(l, 5000);
  auto d = diff_inventory(inv, orch);
  std::size_t create = 0, remove = 0;
  for (int i = 0; i < 20000; ++i) {
    create += (i % 3 != 0 && i % 2 != 0);
    remove += (i % 3 == 0 && i % 2 == 0);
  }
  CHECK(d.to_create.size() == create);
  CHECK(d.to_delete.size() == remove);
}
