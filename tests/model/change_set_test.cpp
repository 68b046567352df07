// change_set: what a batch touched, folded across operations, and rendered into multis.
#include <catch2/catch.hpp>

#include "model/change_set.hpp"
#include "model/zk_layout.hpp"

using namespace iota::model;

namespace {

const std::string root = "/iota/orchestration/Thing";

std::vector<std::string> paths(const rendered_instance& r) {
  std::vector<std::string> out;
  for (auto& op : r.ops)
    out.push_back(op.path);
  return out;
}

}  // namespace

TEST_CASE("the first touch of an instance decides whether it existed and data ORs", "[change_set]") {
  change_set cs;
  cs.touch(1, true, false);
  cs.touch(1, false, true);
  cs.touch(2, false, false);
  REQUIRE(cs.size() == 2);
  CHECK(cs.touched().at(1).existed_before);
  CHECK(cs.touched().at(1).data_changed);
  CHECK_FALSE(cs.touched().at(2).existed_before);
  change_set later;
  later.touch(2, true, true);
  later.touch(3, true, false);
  cs.merge(later);
  CHECK(cs.size() == 3);
  CHECK_FALSE(cs.touched().at(2).existed_before);  // the earlier set opened first
  CHECK(cs.touched().at(2).data_changed);
  CHECK(cs.contains(3));
  cs.clear();
  CHECK(cs.empty());
}

TEST_CASE("render writes created, updated, reloaded and removed instances in that order", "[change_set]") {
  orchestration s;
  s.set_default_capacity(10);
  auto& kept = s.add_instance(0, 10);
  kept.versions = {3, 4, 5};
  s.place("a", 0);
  auto& reloaded = s.add_instance(1, 10);
  reloaded.versions = {0, 7, 0};
  s.add_instance(2, 10).versions = {0, 0, 0};
  change_set cs;
  cs.touch(0, true, true);   // updated
  cs.touch(1, true, false);  // reloaded only
  cs.touch(2, true, true);
  s.remove_instance(2);      // removed
  cs.touch(3, false, true);
  s.add_instance(3, 10);     // created
  s.place("b", 3);

  auto r = render(cs, s, root);
  REQUIRE(r.instances.size() == 4);
  CHECK(r.instances[0].id == 3);
  CHECK(r.instances[0].fate == instance_fate::created);
  CHECK(r.instances[3].id == 2);
  CHECK(r.instances[3].fate == instance_fate::removed);
  for (auto& ri : r.instances) {
    if (ri.fate == instance_fate::created) {
      CHECK(paths(ri) == std::vector<std::string>{instance_path(root, 3), tmp_path(root, 3),
                                                  reload_path(root, 3), resources_path(root, 3)});
      CHECK(ri.ops[3].data == encode_resources({"b"}));
    } else if (ri.fate == instance_fate::reloaded) {
      REQUIRE(ri.ops.size() == 1);
      CHECK(ri.ops[0].path == reload_path(root, 1));
      CHECK(ri.ops[0].version == 7);
      CHECK(ri.ops[0].data == encode_reload(1));
    } else if (ri.fate == instance_fate::updated) {
      CHECK(ri.id == 0);
      for (auto& op : ri.ops)
        CHECK(op.type == zk_op::kind::set);
      CHECK(ri.ops.size() == 3);
    } else {
      for (auto& op : ri.ops)
        CHECK(op.type == zk_op::kind::remove);
    }
  }
  // The removal goes in a multi of its own, after the others.
  REQUIRE(r.removals_from < r.multis.size());
  for (std::size_t m = r.removals_from; m < r.multis.size(); ++m)
    for (auto i : r.multis[m])
      CHECK(r.instances[i].fate == instance_fate::removed);
}

TEST_CASE("a small multi budget splits between instances, never inside one", "[change_set]") {
  orchestration s;
  s.set_default_capacity(100);
  change_set cs;
  for (int id = 0; id < 5; ++id) {
    cs.touch(id, false, true);
    s.add_instance(id, 100);
    for (int k = 0; k < 20; ++k)
      s.place("id-" + std::to_string(id) + "-" + std::to_string(k), id);
  }
  auto r = render(cs, s, root, 1);  // smaller than any instance: one instance a multi
  CHECK(r.multis.size() == 5);
  for (auto& m : r.multis)
    CHECK(m.size() == 1);
  auto whole = render(cs, s, root);
  CHECK(whole.multis.size() == 1);
}

TEST_CASE("record_committed advances the versions ZooKeeper now holds", "[change_set]") {
  orchestration s;
  s.set_default_capacity(10);
  s.add_instance(0, 10).versions = {3, 4, 5};
  s.place("a", 0);
  change_set cs;
  cs.touch(0, true, true);
  auto r = render(cs, s, root);
  REQUIRE(r.instances.size() == 1);
  record_committed(r.instances[0], s);
  CHECK(s.find(0)->versions == znode_versions{4, 5, 6});
  CHECK(s.find(0)->reload_times == 1);
}
