#pragma once
// Who may change things (SPEC 15): which requests need a bearer token, the tokens file, and
// the decision for one request. Pure: the file is read and watched in io/, the decision is
// applied by the HTTP handler.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace iota::model {

struct bearer_token {
  std::string secret;
  std::string name;  // how logs name it, never the secret: "line 3"
};

// One token per line; blank lines and lines starting with '#' are ignored, surrounding
// whitespace is trimmed.
std::vector<bearer_token> parse_tokens_file(std::string_view text);

// The token of an `Authorization: Bearer <token>` header (the scheme in any case, one or more
// spaces), or nothing for any other header.
std::optional<std::string_view> bearer_of(std::string_view authorization);

// Equality whose time depends only on the lengths, not on where the texts differ.
bool same_secret(std::string_view a, std::string_view b);

// POST, PUT, PATCH and DELETE: the methods that change things.
bool is_write(std::string_view method);

// Writes always; reads of the API and /metrics when
// `protect_reads`; /healthz, /readyz and preflights never.
bool needs_token(std::string_view method, std::string_view path, bool protect_reads);

enum class auth_outcome {
  open,      // no token needed
  accepted,  // a known token
  missing,   // needed, none given (or not a Bearer header): 401
  unknown,   // needed, not a known token: 403
};

struct auth_decision {
  auth_outcome outcome = auth_outcome::open;
  std::string token_name;  // accepted: which token
};

// Every known token is compared in full, so the time taken does not tell which one matched.
auth_decision authorize(std::string_view method, std::string_view path, std::string_view authorization,
                        const std::vector<bearer_token>& tokens, bool protect_reads);

}  // namespace iota::model
