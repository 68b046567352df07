// libFuzzer: the REST API's gate (model/bearer_auth, SPEC 15): the Authorization header and
// the tokens file, both untrusted text. The input is split at its first NUL into a tokens
// file and a header. Properties: nothing throws; a parsed token is non-empty, trimmed, has no
// blank inside and is what the header carried; a token from the file is accepted by name and
// any other header is not; tokens never start with '#'.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "model/bearer_auth.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace iota::model;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto nul = input.find('\0');
  auto file = input.substr(0, nul);
  auto header = nul == std::string_view::npos ? std::string_view{} : input.substr(nul + 1);

  auto tokens = parse_tokens_file(file);
  for (auto& t : tokens) {
    FUZZ_CHECK(!t.secret.empty() && t.secret.front() != '#');
    FUZZ_CHECK(t.name.rfind("line ", 0) == 0);
    auto d = authorize("POST", "/v1/api/x", "Bearer " + t.secret, tokens, false);
    // A token with a blank inside cannot be sent in one header: it is refused, never crashes.
    if (t.secret.find_first_of(" \t") == std::string::npos)
      FUZZ_CHECK(d.outcome == auth_outcome::accepted && !d.token_name.empty());
  }
  if (auto b = bearer_of(header)) {
    FUZZ_CHECK(!b->empty());
    FUZZ_CHECK(b->find_first_of(" \t") == std::string_view::npos);
    FUZZ_CHECK(header.find(*b) != std::string_view::npos);
  }
  auto d = authorize("POST", "/v1/api/x", header, tokens, false);
  if (d.outcome == auth_outcome::accepted) {
    auto b = bearer_of(header);
    FUZZ_CHECK(b.has_value());
    bool known = false;
    for (auto& t : tokens)
      known = known || (t.secret == *b && t.name == d.token_name);
    FUZZ_CHECK(known);
  }
  FUZZ_CHECK(authorize("GET", "/healthz", header, tokens, true).outcome == auth_outcome::open);
  return 0;
}
