// libFuzzer: the ZooKeeper data decoders (model/zk_layout, SPEC section 2): znode bytes are
// written by other processes (the original service, an operator with zkCli), so they are
// untrusted. The first byte picks the decoder, the rest is the znode data.
// Properties: never throws; what decodes re-encodes to bytes that decode to the same value
// (the round trip the orchestrator relies on when it rewrites a znode it loaded).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

#include "model/zk_layout.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace iota::model;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      if (auto d = decode_instance_data(bytes)) {
        if (d->used >= 0 && d->count >= std::numeric_limits<int>::min() &&
            d->count <= std::numeric_limits<int>::max()) {
          auto again = decode_instance_data(
              encode_instance_data(static_cast<std::size_t>(d->used), static_cast<int>(d->count)));
          FUZZ_CHECK(again && again->used == d->used && again->count == d->count);
        }
      }
      break;
    case 1:
      if (auto t = decode_reload(bytes)) {
        auto again = decode_reload(encode_reload(*t));
        FUZZ_CHECK(again && *again == *t);
      }
      break;
    case 2:
      if (auto ids = decode_resources(bytes)) {
        auto again = decode_resources(encode_resources(*ids));
        FUZZ_CHECK(again && *again == *ids);
      }
      break;
    case 3:
      if (auto id = parse_instance_name(bytes)) {
        FUZZ_CHECK(*id >= 0 && std::to_string(*id) == bytes);
        FUZZ_CHECK(instance_path("/r", *id) == "/r/" + std::string(bytes));
      }
      break;
  }
  return 0;
}
