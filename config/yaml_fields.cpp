#include "config/yaml_fields.hpp"

#include <charconv>
#include <cmath>
#include <set>

#include "config/validators.hpp"
#include "model/duration.hpp"

namespace iota::config::detail {

std::string render(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "null";
  if (n.IsScalar()) return n.Scalar();
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  out << n;
  return out.c_str();
}

std::string as_string(const YAML::Node& n, const std::string& key, const file_ctx& c) {
  if (!n.IsScalar()) fail(key, c.source, "expected a string", render(n));
  return n.Scalar();
}

bool as_bool(const YAML::Node& n, const std::string& key, const file_ctx& c) {
  bool b = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, b))
    fail(key, c.source, "expected true or false", render(n));
  return b;
}

std::size_t as_count(const YAML::Node& n, const std::string& key, const file_ctx& c,
                     std::size_t min) {
  std::string what = min == 0 ? "expected a non-negative integer"
                              : "expected an integer >= " + std::to_string(min);
  if (!n.IsScalar()) fail(key, c.source, what, render(n));
  const auto& s = n.Scalar();
  unsigned long long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < min ||
      v > std::numeric_limits<std::size_t>::max())
    fail(key, c.source, what, s);
  return static_cast<std::size_t>(v);
}

milliseconds as_duration(const YAML::Node& n, const std::string& key, const file_ctx& c,
                         bool allow_zero) {
  std::string what = "expected a duration such as 500ms, 90s, 10m or 1h";
  if (!allow_zero) what += ", greater than zero";
  if (!n.IsScalar()) fail(key, c.source, what, render(n));
  auto d = model::parse_duration(n.Scalar());
  if (!d || (!allow_zero && d->count() == 0)) fail(key, c.source, what, n.Scalar());
  return *d;
}

double as_fraction(const YAML::Node& n, const std::string& key, const file_ctx& c) {
  static const char* what = "expected a number in (0, 1]";
  if (!n.IsScalar()) fail(key, c.source, what, render(n));
  const auto& s = n.Scalar();
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0 || !std::isfinite(v) || v <= 0 ||
      v > 1)
    fail(key, c.source, what, s);
  return v;
}

std::vector<std::string> as_string_list(const YAML::Node& n, const std::string& key,
                                        const file_ctx& c) {
  if (!n.IsSequence()) fail(key, c.source, "expected a list of strings", render(n));
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n.size(); ++i) {
    auto item_key = key + "[" + std::to_string(i) + "]";
    out.push_back(check_non_empty(as_string(n[i], item_key, c), item_key, c.source));
  }
  return out;
}


// Reads a map whose keys must all be known, each at most once.
void read_map(const YAML::Node& node, const std::string& path, const file_ctx& c,
              const std::vector<field>& fields) {
  if (!node.IsMap())
    fail(path.empty() ? "(top level)" : path, c.source, "expected a map", render(node));
  std::set<std::string> seen;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar())
      fail(path.empty() ? "(top level)" : path, c.source, "expected a key name", render(kv.first));
    const std::string name = kv.first.Scalar();
    const std::string key = path.empty() ? name : path + "." + name;
    auto it =
        std::find_if(fields.begin(), fields.end(), [&](const field& f) { return name == f.name; });
    if (it == fields.end()) {
      std::vector<std::string> known;
      for (const auto& f : fields) known.emplace_back(f.name);
      fail(key, c.source, "unknown key (known keys: " + join(known, ", ") + ")", name);
    }
    if (!seen.insert(name).second) fail(key, c.source, "duplicate key", name);
    it->read(kv.second, key);
  }
}

}  // namespace iota::config::detail
