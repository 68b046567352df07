#include "config/validators.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

namespace iota::config::detail {

// A control character as \n, \r, \t or \xNN; anything else as it is.
void append_visible(std::string& out, char c) {
  static constexpr char hex[] = "0123456789abcdef";
  auto u = static_cast<unsigned char>(c);
  if (c == '\n')
    out += "\\n";
  else if (c == '\r')
    out += "\\r";
  else if (c == '\t')
    out += "\\t";
  else if (u < 0x20 || u == 0x7f) {
    out += "\\x";
    out += hex[u >> 4];
    out += hex[u & 0xf];
  } else {
    out += c;
  }
}

std::string one_line(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) append_visible(out, c);
  return out;
}

// Keeps the message on one line and bounded, whatever the value holds.
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (out.size() >= 200) {
      out += "...";
      break;
    }
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        append_visible(out, c);
    }
  }
  return out;
}

// The one error shape: config: <key path> (<source>): <what is wrong>, got "<value>"
// Key paths, sources and texts may quote the file's keys and values too (a YAML key may hold
// a newline): control characters are escaped everywhere, so the message is always one line.
[[noreturn]] void fail(const std::string& key, const std::string& source, const std::string& what,
                       const std::string& got) {
  throw config_error{"config: " + one_line(key) + " (" + one_line(source) + "): " + one_line(what) +
                     ", got \"" + escape(got) + "\""};
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}


std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  while (true) {
    auto comma = s.find(',');
    out.emplace_back(trim(s.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// --- value checks shared by flags, environment and file ---------------------------------

bool valid_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  int port = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    port = port * 10 + (c - '0');
  }
  return port >= 1 && port <= 65535;
}

bool valid_host(std::string_view h) {
  if (h.empty()) return false;
  if (h.front() == '[') {  // IPv6 literal
    if (h.size() < 3 || h.back() != ']') return false;
    return std::all_of(h.begin() + 1, h.end() - 1, [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.' || c == '%';
    });
  }
  return std::all_of(h.begin(), h.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
}

// HOST:PORT with a valid port; `port_optional` accepts a bare HOST too.
bool valid_host_port(std::string_view s, bool port_optional) {
  std::string_view host, port;
  bool has_port = false;
  if (starts_with(s, "[")) {
    auto close = s.find(']');
    if (close == std::string_view::npos) return false;
    host = s.substr(0, close + 1);
    auto rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      has_port = true;
    }
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      host = s;
    } else {
      host = s.substr(0, colon);
      port = s.substr(colon + 1);
      has_port = true;
    }
  }
  if (!valid_host(host)) return false;
  if (has_port) return valid_port(port);
  return port_optional;
}

// "h1:2181,h2:2181[/chroot]" -> the same with blanks around commas removed.
std::string check_zookeeper(const std::string& v, const std::string& key, const std::string& src) {
  static const char* what = "expected HOST:PORT[,HOST:PORT...] with port 1-65535";
  std::string hosts = v;
  std::string chroot;
  if (auto slash = v.find('/'); slash != std::string::npos) {
    hosts = v.substr(0, slash);
    chroot = std::string(trim(std::string_view(v).substr(slash)));
    if (chroot.size() < 2 || chroot.back() == '/' || chroot.find("//") != std::string::npos)
      fail(key, src, what, v);
  }
  auto items = split_list(hosts);
  for (const auto& item : items)
    if (!valid_host_port(item)) fail(key, src, what, v);
  return join(items, ",") + chroot;
}

std::string check_kafka_brokers(const std::string& v, const std::string& key,
                                const std::string& src) {
  auto items = split_list(v);
  for (const auto& item : items) {
    std::string_view hp = item;
    if (auto scheme = hp.find("://"); scheme != std::string_view::npos)
      hp.remove_prefix(scheme + 3);  // librdkafka accepts PLAINTEXT://host:port
    if (!valid_host_port(hp))
      fail(key, src, "expected HOST:PORT[,HOST:PORT...] with port 1-65535", v);
  }
  return join(items, ",");
}

std::string check_mqtt_brokers(const std::string& v, const std::string& key,
                               const std::string& src) {
  auto items = split_list(v);
  for (const auto& item : items) {
    std::string_view rest = item;
    if (starts_with(rest, "mqtt://"))
      rest.remove_prefix(7);
    else if (starts_with(rest, "tcp://"))
      rest.remove_prefix(6);
    else
      fail(key, src, "expected mqtt://HOST[:PORT] or tcp://HOST[:PORT] (comma-separated)", v);
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    if (!valid_host_port(rest, true))
      fail(key, src, "expected mqtt://HOST[:PORT] or tcp://HOST[:PORT] (comma-separated)", v);
  }
  return join(items, ",");
}

std::string check_listen(const std::string& v, const std::string& key, const std::string& src) {
  auto t = std::string(trim(v));
  if (!valid_host_port(t)) fail(key, src, "expected ADDR:PORT with port 1-65535", v);
  return t;
}

std::string check_driver(const std::string& v, const std::string& key, const std::string& src) {
  if (v != "local" && v != "kubernetes") fail(key, src, "expected local or kubernetes", v);
  return v;
}

std::string check_log_level(const std::string& v, const std::string& key, const std::string& src) {
  static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error"};
  if (!levels.count(v)) fail(key, src, "expected one of trace, debug, info, warn, error", v);
  return v;
}

std::string check_non_empty(const std::string& v, const std::string& key, const std::string& src) {
  if (trim(v).empty()) fail(key, src, "expected a non-empty string", v);
  return v;
}

std::string check_url(const std::string& v, const std::string& key, const std::string& src) {
  std::string_view rest = v;
  if (starts_with(rest, "https://"))
    rest.remove_prefix(8);
  else if (starts_with(rest, "http://"))
    rest.remove_prefix(7);
  else
    fail(key, src, "expected an http:// or https:// URL", v);
  auto host = rest.substr(0, rest.find('/'));
  if (!valid_host_port(host, true)) fail(key, src, "expected an http:// or https:// URL", v);
  return v;
}

// A Kubernetes DNS label: pod names and namespaces.
bool valid_dns_label(std::string_view s, std::size_t max_len) {
  if (s.empty() || s.size() > max_len) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-'; });
}

// Table names double as znode names and SQL identifiers: keep them plain.
bool valid_table_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::string check_namespace(const std::string& v, const std::string& key, const std::string& src) {
  if (!valid_dns_label(v, 63))
    fail(key, src, "expected a Kubernetes namespace (lowercase letters, digits and '-')", v);
  return v;
}

// A relative path written in the config file is relative to that file's directory.
std::string resolve_path(const fs::path& base, const std::string& p) {
  fs::path path(p);
  if (path.is_absolute() || base.empty()) return p;
  return (base / path).lexically_normal().string();
}

}  // namespace iota::config::detail
