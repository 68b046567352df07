#include <catch2/catch.hpp>

#include <random>

#include "model/orchestration.hpp"
#include "model/zk_layout.hpp"
#include "fixtures/ids.hpp"

using namespace iota::model;

TEST_CASE("encoded ids follow appends and swap-with-last removals byte for byte", "[encoded_ids]") {
  std::vector<std::string> ids;
  encoded_ids enc;
  CHECK(enc.bytes(ids) == R"({"ids":[]})");
  ids.push_back("a");
  enc.appended("a");
  CHECK(enc.bytes(ids) == R"({"ids":["a"]})");
  for (auto id : {"b", "c", "q\"x"}) {
    ids.push_back(id);
    enc.appended(id);
  }
  CHECK(enc.fresh());
  CHECK(enc.bytes(ids) == encode_resources(ids));
  // Remove "a" (position 0): "q\"x" (a longer encoding) moves there, so the bytes go stale
  // and are made again, the same as a full encode.
  ids[0] = ids.back();
  ids.pop_back();
  enc.removed(0);
  CHECK_FALSE(enc.fresh());
  CHECK(enc.bytes(ids) == encode_resources(ids));
  CHECK(enc.fresh());
  // Same length: patched in place.
  ids[1] = ids.back();  // "b" <- "c"
  ids.pop_back();
  enc.removed(1);
  CHECK(enc.fresh());
  CHECK(enc.bytes(ids) == encode_resources(ids));
  // The last one, then every one.
  ids.pop_back();
  enc.removed(1);
  CHECK(enc.bytes(ids) == encode_resources(ids));
  ids.pop_back();
  enc.removed(0);
  CHECK(enc.fresh());
  CHECK(enc.bytes(ids) == R"({"ids":[]})");
}

TEST_CASE("an orchestration's encoded resources stay exactly encode_resources through random places and unplaces",
          "[encoded_ids][orchestration]") {
  std::mt19937_64 rng{7};
  orchestration orch{50};
  orch.add_instance(0, 50);
  orch.add_instance(1, 50);
  auto uuids = iota::test::uuids(400, 11);
  std::vector<std::string> live;
  std::size_t next = 0;
  for (int step = 0; step < 3000; ++step) {
    // Mostly UUIDs (patched in place); now and then a short id (a stale encoding, rebuilt) or
    // one with characters to escape, some of the same encoded length as others ("q\"1" and
    // "q\\2" both encode to 6 bytes: patched in place).
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
      live.push_back(id);
    } else {
      auto k = rng() % live.size();
      REQUIRE(orch.unplace(live[k]));
      live[k] = live.back();
      live.pop_back();
    }
    if (step % 7 == 0)  // read now and then, as a write would
      for (instance_id i : {0, 1}) {
        auto* inst = orch.find(i);
        REQUIRE(inst->encoded.bytes(inst->ids) == encode_resources(inst->ids));
      }
  }
  for (instance_id i : {0, 1}) {
    auto* inst = orch.find(i);
    CHECK(inst->encoded.bytes(inst->ids) == encode_resources(inst->ids));
  }
}
