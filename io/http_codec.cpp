#include "io/http_codec.hpp"

#include <algorithm>
#include <boost/beast/http/status.hpp>
#include <cctype>
#include <nlohmann/json.hpp>

namespace iota::io {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lower(a) == lower(b);
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool percent_decode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

bool parse_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query) {
  if (target == "*") {
    path = "*";
    return true;
  }
  // absolute-form (proxies): drop scheme and authority.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
      auto slash = target.find('/', scheme.size());
      auto question = target.find('?', scheme.size());
      if (slash == std::string_view::npos ||
          (question != std::string_view::npos && question < slash)) {
        target =
            question == std::string_view::npos ? std::string_view("/") : target.substr(question);
        std::string rest(target);
        if (rest.front() == '?') rest.insert(rest.begin(), '/');
        return parse_target(rest, path, query);
      }
      target = target.substr(slash);
      break;
    }
  }
  if (target.empty() || target.front() != '/') return false;
  auto question = target.find('?');
  if (!percent_decode(target.substr(0, question), false, path)) return false;
  if (question == std::string_view::npos) return true;
  std::string_view rest = target.substr(question + 1);
  auto hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string key;
    std::string value;
    if (!percent_decode(part.substr(0, eq), true, key)) return false;
    if (eq != std::string_view::npos && !percent_decode(part.substr(eq + 1), true, value)) {
      return false;
    }
    query[key] = std::move(value);
  }
  return true;
}

bool is_token_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (std::isalnum(u)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool valid_header_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), is_token_char);
}

std::string clean_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c != '\r' && c != '\n' && c != '\0') out.push_back(c);
  }
  return out;
}


std::string serialize(const http_response& response, const response_context& ctx) {
  int status = response.status;
  if (status < 100 || status > 999) status = 500;
  auto reason = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
  if (reason.empty() || reason.front() == '<') reason = "Unknown";
  // 1xx, 204 and 304 carry no body and no Content-Length (RFC 7230 3.3).
  bool no_body = status < 200 || status == 204 || status == 304;

  std::string out;
  out.reserve(256 + response.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out.append(reason.data(), reason.size());
  out += "\r\nServer: iota-orchestrator\r\n";
  if (!no_body) {
    out += "Content-Type: ";
    out += clean_value(response.content_type.empty() ? std::string("application/octet-stream")
                                                     : response.content_type);
    out += "\r\nContent-Length: ";
    out += std::to_string(response.body.size());
    out += "\r\n";
  }
  for (const auto& [name, value] : response.headers) {
    // Framing and connection management are ours.
    auto l = lower(name);
    if (!valid_header_name(name) || l == "content-length" || l == "transfer-encoding" ||
        l == "connection" || l == "server" || l == "content-type") {
      continue;
    }
    out += name;
    out += ": ";
    out += clean_value(value);
    out += "\r\n";
  }
  if (!ctx.cors_origin.empty()) {
    out += "Access-Control-Allow-Origin: ";
    out += ctx.cors_origin;
    out += "\r\nAccess-Control-Allow-Credentials: true\r\n";
  }
  if (ctx.vary_origin) out += "Vary: Origin\r\n";
  out += ctx.close_after ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n";
  if (!no_body && !ctx.head_only) out += response.body;
  return out;
}

}  // namespace iota::io
