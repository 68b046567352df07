#include <catch2/catch.hpp>

#include "model/planner.hpp"
#include "fakes/znode_tree.hpp"
#include "model/with_instances.hpp"

using namespace iota::model;

namespace {

const std::string root = "/iota/orchestration/Thing";

std::vector<std::string> make_ids(int n, const std::string& prefix = "r") {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i)
    ids.push_back(prefix + std::to_string(i));
  return ids;
}

using iota::test::with_instances;

orchestrate_plan plan_of(const orchestration& s, const std::vector<std::string>& inv,
                         resource_options o) {
  auto p = plan_orchestrate(s, inv, o);
  REQUIRE(std::holds_alternative<orchestrate_plan>(p));
  return std::get<orchestrate_plan>(p);
}
orchestrate_plan plan_of(const orchestration&, std::vector<std::string>&&, resource_options) = delete;

}  // namespace

TEST_CASE("createResource fills from the highest instance id down", "[planner]") {
  auto s = with_instances({{0, {"a"}}, {1, {"b", "c"}}, {2, {"d", "e"}}}, 2);
  change_set cs;
  auto r = create_resource(s, "x", cs);
  CHECK(r.outcome == create_outcome::placed);
  CHECK(r.target == 0);  // 2 and 1 are full
  CHECK(s.where("x") == 0);
  CHECK(s.find(0)->used() == 2);
  REQUIRE(cs.size() == 1);
  CHECK(cs.touched().at(0).existed_before);
}

TEST_CASE("createResource adds the lowest unused instance id when all are full", "[planner]") {
  auto s = with_instances({{0, {"a", "b"}}, {2, {"c", "d"}}}, 2);
  change_set cs;
  auto r = create_resource(s, "x", cs);
  CHECK(r.outcome == create_outcome::placed_on_new_instance);
  CHECK(r.target == 1);
  CHECK(s.find(1)->capacity == 2);
  CHECK(s.find(1)->ids == std::vector<std::string>{"x"});
  CHECK_FALSE(cs.touched().at(1).existed_before);
  auto rendered = render(cs, s, root);
  REQUIRE(rendered.instances.size() == 1);
  auto& ops = rendered.instances[0].ops;
  REQUIRE(ops.size() == 4);
  CHECK(ops[0].type == zk_op::kind::create);
  CHECK(ops[0].path == root + "/1");
  CHECK(ops[0].data == R"({"used":1,"count":2})");
  CHECK(ops[1].path == root + "/1/tmp");
  CHECK(ops[1].data.empty());
  CHECK(ops[2].path == root + "/1/_reload");
  CHECK(ops[2].data == R"({"times":0})");
  CHECK(ops[3].path == root + "/1/resources");
  CHECK(ops[3].data == R"({"ids":["x"]})");
}

TEST_CASE("createResource on an empty orchestration creates instance 0", "[planner]") {
  orchestration s{7};
  change_set cs;
  auto r = create_resource(s, "42", cs);
  CHECK(r.outcome == create_outcome::placed_on_new_instance);
  CHECK(r.target == 0);
  CHECK(s.find(0)->capacity == 7);
}

TEST_CASE("redelivered events change nothing", "[planner]") {
  auto s = with_instances({{0, {"a"}}}, 5);
  change_set cs;
  CHECK(create_resource(s, "a", cs).outcome == create_outcome::already_placed);
  CHECK_FALSE(delete_resource(s, "nope", cs));
  CHECK_FALSE(update_resource(s, "nope", cs));
  CHECK(cs.empty());
  CHECK(s.find(0)->ids == std::vector<std::string>{"a"});
}

TEST_CASE("deleteResource removes the id and bumps the holder once", "[planner]") {
  auto s = with_instances({{0, {"a", "b", "c"}}, {1, {"d"}}}, 5);
  s.find(0)->reload_times = 4;
  s.find(0)->versions = {3, 4, 5};
  change_set cs;
  CHECK(delete_resource(s, "a", cs));
  CHECK(delete_resource(s, "c", cs));
  CHECK_FALSE(s.where("a"));
  auto rendered = render(cs, s, root);
  REQUIRE(rendered.instances.size() == 1);
  CHECK(rendered.instances[0].fate == instance_fate::updated);
  auto& ops = rendered.instances[0].ops;
  REQUIRE(ops.size() == 3);
  CHECK(ops[0].data == R"({"used":1,"count":5})");
  CHECK(ops[0].version == 3);
  CHECK(ops[1].data == R"({"times":5})");
  CHECK(ops[1].version == 4);
  CHECK(ops[2].data == R"({"ids":["b"]})");
  CHECK(ops[2].version == 5);
  CHECK(s.find(0)->reload_times == 5);
}

TEST_CASE("update reloads only the holder - a dependency change reloads all", "[planner]") {
  auto s = with_instances({{0, {"a"}}, {1, {"b"}}, {2, {}}}, 5);
  change_set cs;
  CHECK(update_resource(s, "b", cs));
  auto rendered = render(cs, s, root);
  REQUIRE(rendered.instances.size() == 1);
  CHECK(rendered.instances[0].fate == instance_fate::reloaded);
  REQUIRE(rendered.instances[0].ops.size() == 1);
  CHECK(rendered.instances[0].ops[0].path == root + "/1/_reload");
  CHECK(rendered.instances[0].ops[0].data == R"({"times":1})");

  change_set all;
  CHECK(reload_all(s, all) == 3);
  auto r2 = render(all, s, root);
  CHECK(r2.instances.size() == 3);
  CHECK(s.find(0)->reload_times == 1);
  CHECK(s.find(1)->reload_times == 2);
}

TEST_CASE("folded change sets bump each instance once (group commit)", "[planner]") {
  auto s = with_instances({{0, {}}, {1, {}}}, 100);
  change_set batch;
  for (int i = 0; i < 50; ++i) {
    change_set one;
    create_resource(s, "id" + std::to_string(i), one);
    if (i % 10 == 0)
      update_resource(s, "id0", one);
    batch.merge(one);
  }
  auto rendered = render(batch, s, root);
  REQUIRE(rendered.instances.size() == 1);  // highest id down: 1 has room for all 50
  CHECK(rendered.multis.size() == 1);
  CHECK(s.find(1)->reload_times == 1);
  CHECK(s.find(0)->reload_times == 0);  // untouched: 1 has room for all 50
  CHECK(rendered.instances[0].id == 1);
  CHECK(rendered.instances[0].fate == instance_fate::updated);
}

TEST_CASE("an instance created and drained inside one batch writes nothing", "[planner]") {
  orchestration s{2};
  change_set cs;
  create_resource(s, "a", cs);
  delete_resource(s, "a", cs);
  auto drain = plan_drain(s, 0);
  REQUIRE(std::holds_alternative<orchestrate_plan>(drain));
  apply_plan(s, std::get<orchestrate_plan>(drain), cs);
  CHECK(s.empty());
  auto rendered = render(cs, s, root);
  CHECK(rendered.instances.empty());
  CHECK(rendered.multis.empty());
}

TEST_CASE("initial placement spreads ids evenly in contiguous blocks", "[planner]") {
  orchestration s;
  auto ids = make_ids(25);
  auto plan = plan_of(s, ids, resource_options{10, 100, 5000});
  CHECK(plan.target == instance_plan{10, 3});
  CHECK(plan.added == std::vector<instance_id>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(plan.moves.empty());
  CHECK(plan.placements.size() == 25);
  change_set cs;
  CHECK(apply_plan(s, plan, cs) == 0);
  CHECK(s.find(0)->ids == std::vector<std::string>{"r0", "r1", "r2"});
  CHECK(s.find(4)->ids == std::vector<std::string>{"r12", "r13", "r14"});
  CHECK(s.find(5)->ids == std::vector<std::string>{"r15", "r16"});
  CHECK(s.find(9)->ids == std::vector<std::string>{"r23", "r24"});
  for (auto& [id, inst] : s.instances())
    CHECK(inst.capacity == 3);
  auto rendered = render(cs, s, root);
  CHECK(rendered.instances.size() == 10);
  for (auto& r : rendered.instances)
    CHECK(r.fate == instance_fate::created);
}

TEST_CASE("orchestrating 20,000 ids with the defaults renders the expected bytes", "[planner]") {
  orchestration s;
  auto ids = make_ids(20000);
  auto plan = plan_of(s, ids, resource_options{});
  CHECK(plan.target == instance_plan{10, 2001});
  change_set cs;
  apply_plan(s, plan, cs);
  auto rendered = render(cs, s, root);
  iota::test::znode_tree zk;
  zk.commit(rendered, s);
  for (int i = 0; i < 10; ++i) {
    CHECK(zk.data(instance_path(root, i)) == R"({"used":2000,"count":2001})");
    CHECK(zk.data(reload_path(root, i)) == R"({"times":0})");
    CHECK(zk.data(tmp_path(root, i)).empty());
    std::vector<std::string> block(ids.begin() + i * 2000, ids.begin() + (i + 1) * 2000);
    CHECK(zk.data(resources_path(root, i)) == encode_resources(block));
  }
}

TEST_CASE("re-orchestrating the same inventory changes nothing", "[planner]") {
  orchestration s;
  auto ids = make_ids(1000);
  change_set first;
  apply_plan(s, plan_of(s, ids, resource_options{}), first);
  auto plan = plan_of(s, ids, resource_options{});
  CHECK(plan.moves.empty());
  CHECK(plan.added.empty());
  CHECK(plan.drained.empty());
  change_set again;
  apply_plan(s, plan, again);
  CHECK(again.empty());
}

TEST_CASE("sticky re-orchestrate moves only what capacity forces", "[planner]") {
  // 3 instances of capacity 10 holding 10, 6, 2; new target capacity 8 with 2 instances.
  auto s = with_instances({{0, make_ids(10, "a")}, {1, make_ids(6, "b")}, {2, make_ids(2, "c")}}, 10);
  std::vector<std::string> inventory;
  for (auto& [_, inst] : s.instances())
    inventory.insert(inventory.end(), inst.ids.begin(), inst.ids.end());
  // 18 ids, rpi 8, init 1, max 99: 18/8+1 = 3 instances of 8. Keep all 3; 0 overflows by 2.
  auto plan = plan_of(s, inventory, resource_options{1, 99, 8});
  CHECK(plan.target == instance_plan{3, 8});
  CHECK(plan.moves.size() == 2);
  CHECK(minimum_moves(s, inventory, plan.target) == 2);
  // 18 ids, rpi 10, init 1: 2 instances of 10: keep 0 (10) and 1 (6); move c0, c1.
  auto plan2 = plan_of(s, inventory, resource_options{1, 99, 10});
  CHECK(plan2.target == instance_plan{2, 10});
  CHECK(plan2.kept == std::vector<instance_id>{0, 1});
  CHECK(plan2.drained == std::vector<instance_id>{2});
  CHECK(plan2.moves.size() == 2);
  for (auto& m : plan2.moves)
    CHECK(m.to == 1);
  change_set cs;
  CHECK(apply_plan(s, plan2, cs) == 0);
  CHECK_FALSE(s.contains(2));
  CHECK(s.find(1)->used() == 8);
  auto rendered = render(cs, s, root);
  CHECK(rendered.instances.back().fate == instance_fate::removed);  // removals go last
}

TEST_CASE("re-orchestrate drops ids gone from the inventory and adds new ones", "[planner]") {
  auto s = with_instances({{0, {"a", "b"}}, {1, {"c"}}}, 5);
  std::vector<std::string> inventory{"b", "c", "d", "e"};
  auto plan = plan_of(s, inventory, resource_options{2, 99, 4});
  CHECK(plan.removals == std::vector<std::string>{"a"});
  CHECK(plan.placements.size() == 2);
  CHECK(plan.moves.empty());
  change_set cs;
  apply_plan(s, plan, cs);
  CHECK_FALSE(s.where("a"));
  CHECK(s.where("b") == 0);
  CHECK(s.where("c") == 1);
  CHECK(s.resources() == 4);
}

TEST_CASE("throttled moves apply in steps and keep used <= count", "[planner]") {
  auto s = with_instances({{0, make_ids(10, "a")}, {1, {}}, {2, {}}}, 10);
  auto ids = make_ids(10, "a");
  auto plan = plan_of(s, ids, resource_options{3, 99, 4});  // 10/4+1 = 3 instances of 4
  CHECK(plan.moves.size() == 6);
  std::size_t steps = 0;
  std::size_t left = 0;
  do {
    change_set cs;
    left = apply_plan(s, plan, cs, 4);
    ++steps;
    for (auto& [id, inst] : s.instances())
      CHECK(inst.used() <= static_cast<std::size_t>(inst.capacity));
  } while (left > 0);
  CHECK(steps == 2);
  for (auto& [id, inst] : s.instances()) {
    CHECK(inst.capacity == 4);
    CHECK(inst.used() <= 4);
  }
  CHECK(s.resources() == 10);
}

TEST_CASE("drain moves an instance's ids to the others with room, most room first", "[planner]") {
  auto s = with_instances({{0, {"a"}}, {1, {"b", "c", "d"}}, {2, {"e", "f"}}}, 4);
  auto p = plan_drain(s, 2);
  REQUIRE(std::holds_alternative<orchestrate_plan>(p));
  auto& plan = std::get<orchestrate_plan>(p);
  REQUIRE(plan.moves.size() == 2);
  CHECK(plan.moves[0].to == 0);
  change_set cs;
  apply_plan(s, plan, cs);
  CHECK_FALSE(s.contains(2));
  CHECK(s.resources() == 6);
  CHECK(s.find(0)->capacity == 4);  // a drain leaves counts alone

  auto full = with_instances({{0, {"a", "b"}}, {1, {"c", "d"}}}, 2);
  auto refused = plan_drain(full, 1);
  REQUIRE(std::holds_alternative<std::string>(refused));
  CHECK(std::get<std::string>(refused) ==
        "instance 1 holds 2 resources but the other instances have room for 0");
  CHECK(std::holds_alternative<std::string>(plan_drain(full, 9)));
}

TEST_CASE("an over-max orchestrate is refused without changes", "[planner]") {
  orchestration s;
  auto inventory = make_ids(12);
  auto p = plan_orchestrate(s, inventory, resource_options{1, 3, 3});
  REQUIRE(std::holds_alternative<std::string>(p));
  CHECK(std::get<std::string>(p) == "require instances more than the max: 5/3");
  CHECK(s.empty());
}

TEST_CASE("loading repairs an id listed by two instances", "[planner]") {
  orchestration::instance_map m;
  m[0].capacity = 5;
  m[0].ids = {"a", "b"};
  m[1].capacity = 5;
  m[1].ids = {"b", "c"};
  std::vector<std::string> problems;
  std::vector<instance_id> repaired;
  auto s = orchestration::from_instances(m, 5, &problems, &repaired);
  CHECK(s.where("b") == 0);
  CHECK(s.find(1)->ids == std::vector<std::string>{"c"});
  CHECK(problems.size() == 1);
  CHECK(repaired == std::vector<instance_id>{1});
}

TEST_CASE("a change set larger than one multi splits at instance boundaries", "[planner]") {
  orchestration s;
  std::vector<std::string> ids;
  for (int i = 0; i < 50000; ++i) {  // UUID-sized ids, 5,000 per instance: ~195 KB each
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%012x", i, i * 7919);
    ids.emplace_back(buf);
  }
  auto plan = plan_of(s, ids, resource_options{10, 99, 4999});
  change_set cs;
  apply_plan(s, plan, cs);
  auto rendered = render(cs, s, root);
  CHECK(rendered.instances.size() == 11);
  CHECK(rendered.multis.size() >= 3);
  std::size_t seen = 0;
  for (auto& multi : rendered.multis) {
    std::size_t bytes = 0;
    for (auto i : multi)
      bytes += rendered.instances[i].bytes;
    CHECK(bytes <= default_multi_budget);
    seen += multi.size();
  }
  CHECK(seen == 11);
  iota::test::znode_tree zk;
  zk.commit(rendered, s);
  auto back = zk.load(root, 5000);
  CHECK(back.resources() == 50000);
}

namespace {

// The size ZooKeeper's jute encoding gives one op of a multi request: its MultiHeader
// (type, done, err: 9 bytes) and the request record (strings and buffers length-prefixed;
// a create carries the open ACL, one entry "world"/"anyone", and its flags).
std::size_t jute_size(const zk_op& op) {
  std::size_t n = 9 + 4 + op.path.size();
  switch (op.type) {
    case zk_op::kind::create: return n + 4 + op.data.size() + 4 + (4 + 4 + 5 + 4 + 6) + 4;
    case zk_op::kind::set: return n + 4 + op.data.size() + 4;
    case zk_op::kind::remove:
    case zk_op::kind::check: return n + 4;
  }
  return n;
}

std::string uuid_like(int i) {
  auto u = static_cast<unsigned>(i);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%012x", u, u * 7919u);
  return buf;
}

}  // namespace

TEST_CASE("an instance's byte count covers its ops' full jute framing", "[planner][multi]") {
  orchestration s;
  change_set cs;
  for (int i = 0; i < 3000; ++i)
    create_resource(s, uuid_like(i), cs);
  auto created = render(cs, s, root);  // creates: the framing with an ACL
  REQUIRE(created.instances.size() == 1);
  std::size_t jute = 0;
  for (auto& op : created.instances[0].ops)
    jute += jute_size(op);
  CHECK(created.instances[0].bytes >= jute);
  for (auto& i : created.instances)
    record_committed(i, s);
  change_set later;
  delete_resource(s, uuid_like(7), later);
  auto updated = render(later, s, root);  // sets
  REQUIRE(updated.instances.size() == 1);
  jute = 0;
  for (auto& op : updated.instances[0].ops)
    jute += jute_size(op);
  CHECK(updated.instances[0].bytes >= jute);
}

TEST_CASE("full-size instances go one per multi far below jute.maxbuffer",
          "[planner][multi]") {
  // 400,000 UUIDs at resourcePerInstance 5000: 81 instances of ~4,938 ids (~193 KB each).
  orchestration s;
  std::vector<std::string> ids;
  for (int i = 0; i < 400000; ++i)
    ids.push_back(uuid_like(i));
  auto plan = plan_of(s, ids, resource_options{10, 100, 5000});
  change_set first;
  apply_plan(s, plan, first);
  auto created = render(first, s, root);
  REQUIRE(created.instances.size() == 81);
  for (auto& i : created.instances)
    record_committed(i, s);
  // A batch of events touching every instance: each one's full `resources` is rewritten.
  change_set cs;
  for (int i = 0; i < 400000; i += 400)
    delete_resource(s, ids[static_cast<std::size_t>(i)], cs);
  REQUIRE(cs.size() == 81);
  auto rendered = render(cs, s, root);
  CHECK(rendered.multis.size() == 81);
  CHECK(rendered.removals_from == rendered.multis.size());
  for (auto& multi : rendered.multis) {
    REQUIRE(multi.size() == 1);
    auto& inst = rendered.instances[multi[0]];
    CHECK(inst.ops.size() == 3);  // data, _reload, resources together
    std::size_t jute = 4 + 8 + 9;  // length, request header, closing MultiHeader
    for (auto& op : inst.ops)
      jute += jute_size(op);
    CHECK(jute <= default_multi_budget);
    CHECK(jute < 1048575 / 4);  // a fence op or longer ids leave a wide margin
  }
}

TEST_CASE("small instances share multis, and removals come last in multis of their own",
          "[planner][multi]") {
  auto s = with_instances({{0, make_ids(10, "a")}, {1, make_ids(10, "b")},
                           {2, make_ids(10, "c")}, {3, {}}},
                          20);
  change_set cs;
  create_resource(s, "x", cs);          // instance 3 (the highest with room) changes
  delete_resource(s, "a1", cs);         // instance 0 changes
  cs.touch(2, true, true);              // instance 2 is about to go
  s.remove_instance(2);
  auto rendered = render(cs, s, root);
  REQUIRE(rendered.instances.size() == 3);
  REQUIRE(rendered.multis.size() == 2);
  CHECK(rendered.multis[0].size() == 2);  // both updates in one multi
  CHECK(rendered.removals_from == 1);
  REQUIRE(rendered.multis[1].size() == 1);
  CHECK(rendered.instances[rendered.multis[1][0]].fate == instance_fate::removed);
  CHECK(rendered.instances[rendered.multis[1][0]].id == 2);
}
