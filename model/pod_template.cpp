#include "model/pod_template.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace iota::model {

namespace {

// Templates are trusted config, but an alias inside its own anchor (`&a [*a]`) makes
// yaml-cpp build a cycle, and the walkers below recurse and expand aliases; parse() refuses
// trees that are deep or huge once expanded. A pod manifest has a few hundred nodes.
constexpr int max_template_depth = 64;
constexpr std::size_t max_template_nodes = 100000;

// The member `key` of `map`, or an undefined node. yaml-cpp's const operator[] throws on a
// scalar and returns a zombie otherwise; going through IsMap() first avoids both surprises.
YAML::Node member(const YAML::Node& map, const char* key) {
  if (!map.IsMap())
    return YAML::Node(YAML::NodeType::Undefined);
  for (const auto& kv : map)
    if (kv.first.IsScalar() && kv.first.Scalar() == key)
      return kv.second;
  return YAML::Node(YAML::NodeType::Undefined);
}

bool present(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }

// Counts nodes as the walkers will see them (aliases expanded), so a few lines of aliases
// that expand exponentially are refused here instead of hanging a render.
class size_guard {
 public:
  bool fits(const YAML::Node& n, int depth = 0) {
    if (depth > max_template_depth || ++nodes_ > max_template_nodes)
      return false;
    if (n.IsMap()) {
      for (const auto& kv : n)
        if (!fits(kv.first, depth + 1) || !fits(kv.second, depth + 1))
          return false;
    } else if (n.IsSequence()) {
      for (const auto& item : n)
        if (!fits(item, depth + 1))
          return false;
    }
    return true;
  }

 private:
  std::size_t nodes_ = 0;
};

// Validation, one path at a time, so the message names exactly what is wrong.
class checker {
 public:
  explicit checker(std::string_view origin) : prefix_("pod template " + std::string(origin) + ": ") {}

  std::optional<std::string> map_at(const YAML::Node& n, const std::string& path) const {
    if (!present(n))
      return prefix_ + "missing " + path;
    if (!n.IsMap())
      return prefix_ + path + " is not a map";
    return std::nullopt;
  }

  // A sequence with at least one element that is a map: containers, env.
  std::optional<std::string> first_map_at(const YAML::Node& n, const std::string& path) const {
    if (!present(n))
      return prefix_ + "missing " + path + "[0]";
    if (!n.IsSequence())
      return prefix_ + path + " is not a sequence";
    if (n.size() == 0)
      return prefix_ + "missing " + path + "[0]";
    return map_at(n[0], path + "[0]");
  }

  // command/args are optional, but when present must be lists of strings, as Kubernetes
  // demands; checking here keeps process() error-free.
  std::optional<std::string> strings_at(const YAML::Node& n, const std::string& path) const {
    if (!present(n))
      return std::nullopt;
    if (!n.IsSequence())
      return prefix_ + path + " is not a sequence";
    for (std::size_t i = 0; i < n.size(); ++i)
      if (!n[i].IsScalar())
        return prefix_ + path + "[" + std::to_string(i) + "] is not a string";
    return std::nullopt;
  }

  std::optional<std::string> env_at(const YAML::Node& env, const std::string& path) const {
    for (std::size_t i = 0; i < env.size(); ++i) {
      auto item_path = path + "[" + std::to_string(i) + "]";
      if (auto e = map_at(env[i], item_path))
        return e;
      if (!member(env[i], "name").IsScalar())
        return prefix_ + "missing " + item_path + ".name";
      auto value = member(env[i], "value");
      if (present(value) && !value.IsScalar())
        return prefix_ + item_path + ".value is not a string";
    }
    return std::nullopt;
  }

  std::string error(const std::string& what) const { return prefix_ + what; }

 private:
  std::string prefix_;
};

std::optional<std::string> validate(const YAML::Node& root, std::string_view origin) {
  checker check(origin);
  if (!root.IsMap())
    return check.error("top level is not a map");
  if (!size_guard().fits(root))
    return check.error("deeper than " + std::to_string(max_template_depth) +
                       " levels or larger than " + std::to_string(max_template_nodes) +
                       " nodes (a recursive or exponential alias?)");
  auto metadata = member(root, "metadata");
  if (auto e = check.map_at(metadata, "metadata"))
    return e;
  if (auto e = check.map_at(member(metadata, "labels"), "metadata.labels"))
    return e;
  auto spec = member(root, "spec");
  if (auto e = check.map_at(spec, "spec"))
    return e;
  auto containers = member(spec, "containers");
  if (auto e = check.first_map_at(containers, "spec.containers"))
    return e;
  auto container = containers[0];
  if (auto e = check.strings_at(member(container, "command"), "spec.containers[0].command"))
    return e;
  if (auto e = check.strings_at(member(container, "args"), "spec.containers[0].args"))
    return e;
  auto env = member(container, "env");
  if (auto e = check.first_map_at(env, "spec.containers[0].env"))
    return e;
  return check.env_at(env, "spec.containers[0].env");
}

// Writes `value` as a quoted string under `key`, replacing any existing entry: the tag "!"
// marks it non-plain, so neither our YAML writer nor our JSON conversion retypes "3" as 3.
void set_string(YAML::Node map, const char* key, const std::string& value) {
  YAML::Node slot = map[key];
  slot = value;
  slot.SetTag("!");
}

// A fresh tree with the per-instance fields set. The text was validated by parse(), so the
// paths exist; Load cannot fail on text it accepted before.
YAML::Node instantiate(const std::string& text, std::string_view instance_name,
                       int instance_id) {
  YAML::Node root = YAML::Load(text);
  auto id = std::to_string(instance_id);
  YAML::Node metadata = root["metadata"];
  set_string(metadata, "name", std::string(instance_name) + "-" + id);
  set_string(metadata["labels"], "instanceId", id);
  set_string(root["spec"]["containers"][0]["env"][0], "value", id);
  return root;
}

bool is_plain_tag(const std::string& tag) { return tag.empty() || tag == "?"; }
bool is_builtin_tag(const std::string& tag) { return is_plain_tag(tag) || tag == "!"; }

void emit(YAML::Emitter& out, const YAML::Node& n) {
  if (!is_builtin_tag(n.Tag()))
    out << YAML::VerbatimTag(n.Tag());
  switch (n.Type()) {
    case YAML::NodeType::Map:
      if (n.Style() == YAML::EmitterStyle::Flow)
        out << YAML::Flow;
      out << YAML::BeginMap;
      for (const auto& kv : n) {
        out << YAML::Key;
        emit(out, kv.first);
        out << YAML::Value;
        emit(out, kv.second);
      }
      out << YAML::EndMap;
      break;
    case YAML::NodeType::Sequence:
      if (n.Style() == YAML::EmitterStyle::Flow)
        out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const auto& item : n)
        emit(out, item);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Scalar:
      // Quoted in the source (or set by us) stays quoted; plain stays plain where the
      // emitter can (it quotes by itself what would not read back as the same string).
      if (n.Tag() == "!")
        out << YAML::DoubleQuoted;
      out << n.Scalar();
      break;
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out << YAML::Null;
      break;
  }
}

bool all_of(std::string_view s, std::size_t from, bool (*pred)(char)) {
  if (from >= s.size())
    return false;
  for (std::size_t i = from; i < s.size(); ++i)
    if (!pred(s[i]))
      return false;
  return true;
}
bool is_dec(char c) { return c >= '0' && c <= '9'; }
bool is_oct(char c) { return c >= '0' && c <= '7'; }
bool is_hex(char c) {
  return is_dec(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?  (YAML 1.2 core schema float)
bool is_core_float(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+'))
    ++i;
  std::size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && is_dec(s[i]))
    ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_dec(s[i]))
      ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0)
    return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+'))
      ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && is_dec(s[i]))
      ++i, ++exp_digits;
    if (exp_digits == 0)
      return false;
  }
  return i == s.size();
}

template <class T>
std::optional<T> parse_int(std::string_view digits, int base) {
  T v{};
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
  if (ec != std::errc() || end != digits.data() + digits.size())
    return std::nullopt;
  return v;
}

// A plain scalar by the YAML 1.2 core schema. kubectl's converter (go-yaml, YAML 1.1) would
// also read yes/no/on/off as bools; here they stay strings, which is more lenient (such a
// value in a string field passes instead of failing) and never matters for a field that
// wants a bool, since manifests spell those true/false.
nlohmann::ordered_json resolve_plain(const std::string& s) {
  if (s == "~" || s == "null" || s == "Null" || s == "NULL")
    return nullptr;
  if (s == "true" || s == "True" || s == "TRUE")
    return true;
  if (s == "false" || s == "False" || s == "FALSE")
    return false;
  std::string_view v = s;
  if (v.size() > 2 && v[0] == '0' && v[1] == 'o' && all_of(v, 2, is_oct)) {
    if (auto n = parse_int<std::uint64_t>(v.substr(2), 8))
      return *n;
    return s;  // too large for a JSON integer we could write exactly
  }
  if (v.size() > 2 && v[0] == '0' && v[1] == 'x' && all_of(v, 2, is_hex)) {
    if (auto n = parse_int<std::uint64_t>(v.substr(2), 16))
      return *n;
    return s;
  }
  std::size_t sign = (!v.empty() && (v[0] == '-' || v[0] == '+')) ? 1 : 0;
  if (all_of(v, sign, is_dec)) {
    auto digits = v.substr(sign);
    if (v[0] == '-') {
      if (auto n = parse_int<std::int64_t>(v, 10))
        return *n;
    } else if (auto n = parse_int<std::uint64_t>(digits, 10)) {
      if (*n <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return static_cast<std::int64_t>(*n);
      return *n;
    }
    // Beyond 64 bits: fall through to a (lossy) float, still a number as YAML says.
  }
  if (is_core_float(v)) {
    // from_chars rejects a leading '+'; it is locale-independent, unlike strtod.
    auto body = v.substr(v[0] == '+' ? 1 : 0);
    double d = 0;
    auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), d);
    if (ec == std::errc() && end == body.data() + body.size() && std::isfinite(d))
      return d;
  }
  // .inf and .nan have no JSON spelling; everything else is a string.
  return s;
}

nlohmann::ordered_json to_json(const YAML::Node& n) {
  using json = nlohmann::ordered_json;
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json obj = json::object();
      for (const auto& kv : n) {
        std::string key;
        if (kv.first.IsScalar()) {
          key = kv.first.Scalar();
        } else if (kv.first.IsNull()) {
          key = "null";
        } else {
          YAML::Emitter out;
          out << YAML::Flow;
          emit(out, kv.first);
          key = out.c_str();
        }
        obj[key] = to_json(kv.second);
      }
      return obj;
    }
    case YAML::NodeType::Sequence: {
      json arr = json::array();
      for (const auto& item : n)
        arr.push_back(to_json(item));
      return arr;
    }
    case YAML::NodeType::Scalar:
      if (is_plain_tag(n.Tag()))
        return resolve_plain(n.Scalar());
      // Quoted ("!"), !!str, and tags we do not know: the text, as Kubernetes would see it
      // after its own conversion for anything a pod manifest contains.
      if (n.Tag() == "tag:yaml.org,2002:int" || n.Tag() == "tag:yaml.org,2002:float" ||
          n.Tag() == "tag:yaml.org,2002:bool" || n.Tag() == "tag:yaml.org,2002:null")
        return resolve_plain(n.Scalar());
      return n.Scalar();
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
  }
  return nullptr;
}

}  // namespace

std::variant<pod_template, std::string> pod_template::parse(std::string_view yaml_text,
                                                            std::string_view origin) {
  std::string text(yaml_text);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return "pod template " + std::string(origin) + ": invalid YAML: " + e.what();
  }
  try {
    if (auto error = validate(root, origin))
      return *error;
  } catch (const YAML::Exception& e) {
    return "pod template " + std::string(origin) + ": " + e.what();
  }
  return pod_template(std::move(text), std::string(origin));
}

std::string pod_template::render_yaml(std::string_view instance_name, int instance_id) const {
  YAML::Emitter out;
  emit(out, instantiate(text_, instance_name, instance_id));
  return std::string(out.c_str()) + "\n";
}

std::string pod_template::render_json(std::string_view instance_name, int instance_id) const {
  // replace: a template with invalid UTF-8 still yields a body (Kubernetes will say what
  // is wrong with it) instead of an exception in the middle of a pod creation.
  return to_json(instantiate(text_, instance_name, instance_id))
      .dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

process_spec pod_template::process(int instance_id) const {
  process_spec spec;
  YAML::Node root = instantiate(text_, "", instance_id);
  YAML::Node container = root["spec"]["containers"][0];
  for (const char* part : {"command", "args"}) {
    auto list = member(container, part);
    if (list.IsSequence())
      for (const auto& arg : list)
        spec.argv.push_back(arg.Scalar());
  }
  auto env = member(container, "env");
  for (std::size_t i = 0; i < env.size(); ++i) {
    auto entry = env[i];
    auto value = member(entry, "value");
    // Kubernetes reads a missing value as ""; a valueFrom (secret, field ref) has no
    // meaning off-cluster, so such an entry is left out rather than set wrong.
    if (!present(value) && present(member(entry, "valueFrom")))
      continue;
    spec.env.emplace_back(member(entry, "name").Scalar(),
                          value.IsScalar() ? value.Scalar() : std::string());
  }
  return spec;
}

}  // namespace iota::model
