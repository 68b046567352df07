// Randomized sequences of every planner operation, checked after each step against the
// invariants of shared/SPEC.md sections 2-4 and against a znode tree that executes the
// rendered writes with ZooKeeper's rules.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>

#include "model/planner.hpp"
#include "fakes/znode_tree.hpp"

using namespace iota::model;

namespace {

const std::string root = "/iota/orchestration/Rule";

void check_invariants(const orchestration& s) {
  std::set<std::string> seen;
  std::size_t total = 0;
  for (auto& [id, inst] : s.instances()) {
    REQUIRE(inst.used() <= static_cast<std::size_t>(inst.capacity));
    for (const auto& rid : inst.ids) {
      REQUIRE(seen.insert(rid).second);  // on exactly one instance
      REQUIRE(s.where(rid) == id);       // and the index agrees
    }
    total += inst.used();
  }
  REQUIRE(s.resources() == total);
}

// The fewest moves any re-orchestrate can make, by brute force over which instances stay:
// an independent check of the planner's choice.
std::size_t brute_force_minimum(const orchestration& s, const std::set<std::string>& inventory,
                                instance_plan target) {
  std::vector<std::size_t> valid;
  std::size_t total = 0;
  for (auto& [_, inst] : s.instances()) {
    std::size_t v = 0;
    for (const auto& rid : inst.ids)
      v += inventory.count(rid);
    valid.push_back(v);
    total += v;
  }
  const auto n = valid.size();
  const auto keep = std::min<std::size_t>(n, static_cast<std::size_t>(target.instances));
  std::size_t best = total;
  for (std::uint32_t mask = 0; mask < (1u << n); ++mask) {
    if (static_cast<std::size_t>(__builtin_popcount(mask)) != keep)
      continue;
    std::size_t stay = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (mask & (1u << i))
        stay += std::min(valid[i], static_cast<std::size_t>(target.capacity));
    best = std::min(best, total - stay);
  }
  return best;
}

struct harness {
  std::mt19937 rng;
  orchestration state{5};
  iota::test::znode_tree zk;
  std::vector<std::string> pool;
  std::size_t reorchestrations = 0;

  explicit harness(std::uint32_t seed) : rng(seed) {
    for (int i = 0; i < 160; ++i)
      pool.push_back(i % 3 == 0 ? std::to_string(i) : "res-" + std::to_string(i));
  }

  int pick(int lo, int hi) { return std::uniform_int_distribution<int>{lo, hi}(rng); }
  const std::string& any_id() { return pool[static_cast<std::size_t>(pick(0, 159))]; }

  // Commits one change set and checks what the writes did.
  void commit(const change_set& cs) {
    std::map<instance_id, std::int64_t> before;
    for (auto& [id, inst] : state.instances())
      before[id] = inst.reload_times;
    auto rendered = render(cs, state, root);
    for (auto& [id, inst] : state.instances()) {
      auto it = before.find(id);
      auto touched = cs.contains(id);
      if (it == before.end())
        continue;  // new instance: created with its own times
      bool existed = touched && cs.touched().at(id).existed_before;
      // exactly one bump per change set for a touched instance that stays; none otherwise
      REQUIRE(inst.reload_times == it->second + (existed ? 1 : 0));
    }
    zk.commit(rendered, state);
    check_invariants(state);
    // The znodes now say exactly what the state says, versions included.
    auto loaded = zk.load(root, state.default_capacity());
    REQUIRE(loaded.instances().size() == state.instances().size());
    for (auto& [id, inst] : state.instances()) {
      auto* l = loaded.find(id);
      REQUIRE(l != nullptr);
      REQUIRE(l->capacity == inst.capacity);
      REQUIRE(l->reload_times == inst.reload_times);
      REQUIRE(l->ids == inst.ids);
      if (inst.versions.data >= 0)
        REQUIRE(l->versions == inst.versions);
    }
  }

  void reorchestrate() {
    std::set<std::string> inventory;
    std::vector<std::string> inv;
    for (auto& id : pool)
      if (pick(0, 3) != 0 && inventory.insert(id).second)
        inv.push_back(id);
    resource_options o{pick(1, 6), pick(3, 12), pick(1, 40)};
    // Stay within what the brute force can enumerate.
    if (state.instances().size() > 14)
      o.init_instances = 1;
    auto p = plan_orchestrate(state, inv, o);
    auto expected = plan_instances(inv.size(), o);
    if (auto* err = std::get_if<std::string>(&p)) {
      REQUIRE(std::get<std::string>(expected) == *err);
      return;
    }
    auto& plan = std::get<orchestrate_plan>(p);
    REQUIRE(plan.target == std::get<instance_plan>(expected));
    std::map<std::string, instance_id> owner_before;
    for (auto& [id, inst] : state.instances())
      for (const auto& rid : inst.ids)
        owner_before[rid] = id;
    if (state.instances().size() <= 16)
      REQUIRE(plan.moves.size() == brute_force_minimum(state, inventory, plan.target));
    REQUIRE(plan.moves.size() == minimum_moves(state, inv, plan.target));
    std::size_t step = pick(0, 1) ? 0 : static_cast<std::size_t>(pick(1, 5));
    for (int guard = 0;; ++guard) {
      REQUIRE(guard < 1000);
      change_set cs;
      auto left = apply_plan(state, plan, cs, step);
      commit(cs);
      if (left == 0)
        break;
    }
    // The outcome: exactly the inventory, on target.instances instances of target.capacity.
    REQUIRE(state.instances().size() == static_cast<std::size_t>(plan.target.instances));
    REQUIRE(state.resources() == inventory.size());
    std::size_t moved = 0;
    for (auto& rid : inventory) {
      REQUIRE(state.where(rid));
      auto it = owner_before.find(rid);
      if (it != owner_before.end() && it->second != *state.where(rid))
        ++moved;
    }
    REQUIRE(moved == plan.moves.size());
    for (auto& [_, inst] : state.instances())
      REQUIRE(inst.capacity == plan.target.capacity);
    ++reorchestrations;
  }

  void step() {
    int what = pick(0, 99);
    if (what < 4) {
      reorchestrate();
      return;
    }
    change_set batch;
    int events = pick(1, 12);  // a group-commit batch of several events
    for (int e = 0; e < events; ++e) {
      int op = pick(0, 99);
      change_set one;
      if (op < 50) {
        auto& id = any_id();
        bool was = state.where(id).has_value();
        auto r = create_resource(state, id, one);
        REQUIRE((r.outcome == create_outcome::already_placed) == was);
        REQUIRE(one.empty() == was);
        REQUIRE(state.where(id) == r.target);
      } else if (op < 85) {
        auto& id = any_id();
        bool was = state.where(id).has_value();
        REQUIRE(delete_resource(state, id, one) == was);
        REQUIRE_FALSE(state.where(id));
        REQUIRE(one.empty() == !was);
      } else if (op < 95) {
        auto& id = any_id();
        REQUIRE(update_resource(state, id, one) == state.where(id).has_value());
      } else if (op < 97) {
        reload_all(state, one);
      } else if (!state.empty()) {
        auto victim = std::next(state.instances().begin(),
                                pick(0, static_cast<int>(state.instances().size()) - 1))->first;
        auto p = plan_drain(state, victim);
        if (auto* plan = std::get_if<orchestrate_plan>(&p)) {
          auto total = state.resources();
          REQUIRE(apply_plan(state, *plan, one) == 0);
          REQUIRE_FALSE(state.contains(victim));
          REQUIRE(state.resources() == total);
        }
      }
      batch.merge(one);
      check_invariants(state);
    }
    commit(batch);
  }
};

}  // namespace

TEST_CASE("random operation sequences keep every invariant", "[planner][property]") {
  std::size_t reorchestrations = 0;
  std::size_t multis = 0;
  for (std::uint32_t seed = 1; seed <= 40; ++seed) {
    INFO("seed " << seed);
    harness h{seed};
    for (int i = 0; i < 250; ++i)
      h.step();
    reorchestrations += h.reorchestrations;
    multis += h.zk.multis_applied();
  }
  // The run really exercised re-orchestration and writes, not only no-ops.
  CHECK(reorchestrations > 100);
  CHECK(multis > 5000);
}
