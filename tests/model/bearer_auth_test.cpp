#include <catch2/catch.hpp>

#include "model/bearer_auth.hpp"

using namespace iota::model;

TEST_CASE("the tokens file: one per line, blank lines and comments ignored, named by line", "[auth]") {
  auto tokens = parse_tokens_file("# operators\n\n  s3cr3t-one  \r\n#s3cr3t-old\ns3cr3t-two");
  REQUIRE(tokens.size() == 2);
  CHECK(tokens[0].secret == "s3cr3t-one");
  CHECK(tokens[0].name == "line 3");
  CHECK(tokens[1].secret == "s3cr3t-two");
  CHECK(tokens[1].name == "line 5");
  CHECK(parse_tokens_file("").empty());
  CHECK(parse_tokens_file("\n# only a comment\n   \n").empty());
}

TEST_CASE("the Authorization header: Bearer in any case, one token", "[auth]") {
  CHECK(bearer_of("Bearer abc") == std::optional<std::string_view>{"abc"});
  CHECK(bearer_of("bearer   abc  ") == std::optional<std::string_view>{"abc"});
  CHECK(bearer_of("BEARER\tabc") == std::optional<std::string_view>{"abc"});
  CHECK_FALSE(bearer_of(""));
  CHECK_FALSE(bearer_of("Bearer"));
  CHECK_FALSE(bearer_of("Bearer "));
  CHECK_FALSE(bearer_of("Bearerabc"));
  CHECK_FALSE(bearer_of("Basic YWxhZGRpbjpvcGVuc2VzYW1l"));
  CHECK_FALSE(bearer_of("Bearer a b"));
}

TEST_CASE("same_secret compares whole texts of any length", "[auth]") {
  CHECK(same_secret("abc", "abc"));
  CHECK(same_secret("", ""));
  CHECK_FALSE(same_secret("abc", "abd"));
  CHECK_FALSE(same_secret("abc", "abcd"));
  CHECK_FALSE(same_secret("abcd", "abc"));
  CHECK_FALSE(same_secret("", "a"));
  CHECK_FALSE(same_secret(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST_CASE("writes always need a token, reads only when protected, probes never", "[auth]") {
  for (auto m : {"POST", "PUT", "PATCH", "DELETE"}) {
    CHECK(needs_token(m, "/v1/api/orchestrations/Thing/orchestrate", false));
    CHECK(needs_token(m, "/healthz", false));  // a write is a write, whatever the path
  }
  CHECK_FALSE(needs_token("GET", "/v1/api/orchestrations/Thing", false));
  CHECK(needs_token("GET", "/v1/api/orchestrations/Thing", true));
  CHECK(needs_token("GET", "/metrics", true));
  CHECK_FALSE(needs_token("GET", "/metrics", false));
  CHECK_FALSE(needs_token("GET", "/healthz", true));
  CHECK_FALSE(needs_token("GET", "/readyz", true));
  CHECK_FALSE(needs_token("OPTIONS", "/v1/api/orchestrations/Thing/orchestrate", true));
}

TEST_CASE("authorize: open, accepted with the token's name, missing (401) or unknown (403)", "[auth]") {
  auto tokens = parse_tokens_file("alpha\nbravo\n");
  auto path = "/v1/api/orchestrations/Thing/orchestrate";
  CHECK(authorize("GET", "/v1/api/stats", "", tokens, false).outcome == auth_outcome::open);
  auto ok = authorize("POST", path, "Bearer bravo", tokens, false);
  CHECK(ok.outcome == auth_outcome::accepted);
  CHECK(ok.token_name == "line 2");
  CHECK(authorize("POST", path, "", tokens, false).outcome == auth_outcome::missing);
  CHECK(authorize("POST", path, "Basic xyz", tokens, false).outcome == auth_outcome::missing);
  CHECK(authorize("POST", path, "Bearer charlie", tokens, false).outcome == auth_outcome::unknown);
  CHECK(authorize("POST", path, "Bearer alph", tokens, false).outcome == auth_outcome::unknown);
  CHECK(authorize("POST", path, "Bearer alpha", {}, false).outcome == auth_outcome::unknown);
  CHECK(authorize("GET", "/metrics", "Bearer alpha", tokens, true).outcome == auth_outcome::accepted);
  CHECK(authorize("GET", "/metrics", "", tokens, true).outcome == auth_outcome::missing);
}
