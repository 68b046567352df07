#include <catch2/catch.hpp>

#include <random>

#include "model/id_index.hpp"
#include "model/id_list.hpp"
#include "model/orchestration.hpp"
#include "model/zk_layout.hpp"
#include "fixtures/ids.hpp"

using namespace iota::model;

TEST_CASE("an id list is its resources bytes through appends and swap-with-last removals", "[id_list]") {
  std::vector<std::string> ids;
  id_list list;
  CHECK(list.bytes() == R"({"ids":[]})");
  CHECK(list.empty());
  ids.push_back("a");
  list.push_back("a");
  CHECK(list.bytes() == R"({"ids":["a"]})");
  for (auto id : {"b", "c", "q\"x"}) {
    ids.push_back(id);
    list.push_back(id);
  }
  CHECK(list.bytes() == encode_resources(ids));
  CHECK(list == ids);
  CHECK(list[3] == "q\"x");  // decoded
  std::string scratch;
  CHECK(list.view(3, scratch) == "q\"x");
  CHECK(list.equals(3, "q\"x"));
  CHECK_FALSE(list.equals(3, "q\\\"x"));
  CHECK(list.view(1, scratch) == "b");
  // Remove "a" (position 0): "q\"x" (a longer encoding) moves there: spliced.
  ids[0] = ids.back();
  ids.pop_back();
  list.remove_swap_last(0);
  CHECK(list.bytes() == encode_resources(ids));
  CHECK(list == ids);
  // Same length: patched in place.
  ids[1] = ids.back();  // "b" <- "c"
  ids.pop_back();
  list.remove_swap_last(1);
  CHECK(list.bytes() == encode_resources(ids));
  CHECK(list.to_vector() == ids);
  // The last one, then every one.
  ids.pop_back();
  list.remove_swap_last(1);
  CHECK(list.bytes() == encode_resources(ids));
  ids.pop_back();
  list.remove_swap_last(0);
  CHECK(list.bytes() == R"({"ids":[]})");
  CHECK(list.empty());
}

TEST_CASE("an id list decodes every escape it wrote", "[id_list]") {
  std::vector<std::string> ids{"plain", "q\"", "b\\s", "\b\f\n\r\t", std::string{"\x01\x1f", 2},
                               "caf\xc3\xa9", ""};
  id_list list{ids};
  CHECK(list.bytes() == encode_resources(ids));
  for (std::size_t i = 0; i < ids.size(); ++i) {
    CHECK(list[i] == ids[i]);
    CHECK(list.equals(i, ids[i]));
  }
  CHECK(std::vector<std::string>(list.begin(), list.end()) == ids);
  CHECK(decode_resources(list.bytes()) == ids);
}

TEST_CASE("the flat index finds, moves and erases entries through collisions and wrap-around",
          "[id_index]") {
  // Hashes chosen to collide (same home slot) and to wrap around the table's end; the
  // "text" of entry (owner, position) is owner * 1000 + position.
  id_index index;
  std::map<std::pair<int, std::uint32_t>, std::uint32_t> live;  // -> hash
  std::mt19937 rng{3};
  auto same_as = [](int owner, std::uint32_t position) {
    return [=](const id_index::entry& e) { return e.owner == owner && e.position == position; };
  };
  for (int step = 0; step < 20000; ++step) {
    if (live.empty() || rng() % 3 != 0) {
      int owner = static_cast<int>(rng() % 50);
      auto position = static_cast<std::uint32_t>(rng() % 100);
      if (live.count({owner, position}))
        continue;
      auto hash = rng() % 4 == 0 ? 0xffffffffu - rng() % 3 : rng() % 7;  // crowded
      index.insert({hash, owner, position});
      live[{owner, position}] = hash;
    } else {
      auto it = live.begin();
      std::advance(it, rng() % live.size());
      auto* e = index.find(it->second, same_as(it->first.first, it->first.second));
      REQUIRE(e != nullptr);
      index.erase(e);
      live.erase(it);
    }
    REQUIRE(index.size() == live.size());
    if (step % 500 == 0)
      for (auto& [key, hash] : live)
        REQUIRE(index.find(hash, same_as(key.first, key.second)) != nullptr);
  }
  for (auto& [key, hash] : live)
    CHECK(index.find(hash, same_as(key.first, key.second)) != nullptr);
  CHECK(index.find(5, same_as(99, 0)) == nullptr);
}

TEST_CASE("an orchestration's ids, index and resources bytes stay exact through random places and unplaces",
          "[id_list][orchestration]") {
  std::mt19937_64 rng{7};
  orchestration orch{50};
  orch.add_instance(0, 50);
  orch.add_instance(1, 50);
  auto uuids = iota::test::uuids(400, 11);
  std::vector<std::string> live;
  std::map<instance_id, std::vector<std::string>> shadow;  // the seed's vectors, side by side
  std::map<std::string, std::uint64_t> decided;
  std::size_t next = 0;
  auto check_all = [&] {
    for (instance_id i : {0, 1}) {
      auto* inst = orch.find(i);
      REQUIRE(inst->ids == shadow[i]);
      REQUIRE(inst->ids.bytes() == encode_resources(shadow[i]));
    }
    REQUIRE(orch.resources() == live.size());
    for (auto& id : live) {
      REQUIRE(orch.where(id).has_value());
      REQUIRE(orch.decided_by(id) == decided[id]);
    }
  };
  for (int step = 0; step < 3000; ++step) {
    // Mostly UUIDs (patched in place); now and then a short id (spliced) or one with
    // characters to escape, some of the same encoded length as others ("q\"1" and "q\\2"
    // both encode to 6 bytes: patched in place).
    if (live.empty() || (rng() % 3 != 0 && next < uuids.size())) {
      auto kind = rng() % 17;
      auto id = kind == 0   ? "short-" + std::to_string(step)
                : kind == 1 ? std::string{"q\""} + std::to_string(step % 10)
                : kind == 2 ? std::string{"q\\"} + std::to_string(step % 10)
                : kind == 3 ? std::string{"\n\x01"} + std::to_string(step)
                            : uuids[next++ % uuids.size()];
      if (orch.where(id))
        continue;
      auto target = static_cast<instance_id>(rng() % 2);
      if (!orch.find(target)->has_room())
        target = 1 - target;
      if (!orch.find(target)->has_room())
        continue;
      orch.place(id, target);
      shadow[target].push_back(id);
      live.push_back(id);
      decided[id] = step;
      orch.set_decided_by(id, static_cast<std::uint64_t>(step));
    } else {
      auto k = rng() % live.size();
      auto owner = *orch.where(live[k]);
      REQUIRE(orch.unplace(live[k]));
      auto& v = shadow[owner];
      auto at = std::find(v.begin(), v.end(), live[k]);
      *at = v.back();
      v.pop_back();
      CHECK_FALSE(orch.where(live[k]));
      CHECK_FALSE(orch.unplace(live[k]));
      decided.erase(live[k]);
      live[k] = live.back();
      live.pop_back();
    }
    if (step % 7 == 0)  // read now and then, as a write would
      check_all();
  }
  check_all();
  orch.remove_instance(0);
  CHECK(orch.resources() == shadow[1].size());
  for (auto& id : shadow[0])
    CHECK_FALSE(orch.where(id));
  for (auto& id : shadow[1])
    CHECK(orch.where(id) == 1);
}
