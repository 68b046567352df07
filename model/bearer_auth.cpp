#include "model/bearer_auth.hpp"

#include <cctype>

#include "model/text.hpp"

namespace iota::model {

std::vector<bearer_token> parse_tokens_file(std::string_view text) {
  std::vector<bearer_token> out;
  std::size_t line = 0;
  while (!text.empty()) {
    ++line;
    auto nl = text.find('\n');
    auto raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    auto t = trim(raw);
    if (t.empty() || t.front() == '#')
      continue;
    out.push_back({std::string{t}, "line " + std::to_string(line)});
  }
  return out;
}

std::optional<std::string_view> bearer_of(std::string_view authorization) {
  auto h = trim(authorization);
  constexpr std::string_view scheme = "bearer";
  if (h.size() <= scheme.size())
    return std::nullopt;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(h[i])) != scheme[i])
      return std::nullopt;
  auto rest = h.substr(scheme.size());
  if (rest.front() != ' ' && rest.front() != '\t')
    return std::nullopt;
  auto token = trim(rest);
  if (token.empty() || token.find_first_of(" \t") != std::string_view::npos)
    return std::nullopt;
  return token;
}

bool same_secret(std::string_view a, std::string_view b) {
  // Walk the longer length whatever the contents; unequal lengths never compare equal.
  std::size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

bool is_write(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

bool needs_token(std::string_view method, std::string_view path, bool protect_reads) {
  if (is_write(method))
    return true;
  if (method == "OPTIONS")
    return false;
  if (path == "/healthz" || path == "/readyz")
    return false;
  return protect_reads;
}

auth_decision authorize(std::string_view method, std::string_view path, std::string_view authorization,
                        const std::vector<bearer_token>& tokens, bool protect_reads) {
  auth_decision d;
  if (!needs_token(method, path, protect_reads))
    return d;
  auto given = bearer_of(authorization);
  if (!given) {
    d.outcome = auth_outcome::missing;
    return d;
  }
  const bearer_token* match = nullptr;
  for (auto& t : tokens)
    if (same_secret(*given, t.secret) && !match)
      match = &t;
  if (!match) {
    d.outcome = auth_outcome::unknown;
    return d;
  }
  d.outcome = auth_outcome::accepted;
  d.token_name = match->name;
  return d;
}

}  // namespace iota::model
