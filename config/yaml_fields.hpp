#pragma once
// Typed access to the config file's YAML nodes: each reader names the key and the file in
// its error, and maps refuse unknown and repeated keys. Internal to config/.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace iota::config::detail {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

struct file_ctx {
  std::string source;  // "file <path>"
  fs::path dir;        // base of relative paths
};

std::string render(const YAML::Node& n);

std::string as_string(const YAML::Node& n, const std::string& key, const file_ctx& c);

bool as_bool(const YAML::Node& n, const std::string& key, const file_ctx& c);

std::size_t as_count(const YAML::Node& n, const std::string& key, const file_ctx& c,
                     std::size_t min);

milliseconds as_duration(const YAML::Node& n, const std::string& key, const file_ctx& c,
                         bool allow_zero);

double as_fraction(const YAML::Node& n, const std::string& key, const file_ctx& c);

std::vector<std::string> as_string_list(const YAML::Node& n, const std::string& key,
                                        const file_ctx& c);

using field_fn = std::function<void(const YAML::Node& value, const std::string& key)>;

struct field {
  std::string name;
  field_fn read;
};

// Reads a map whose keys must all be known, each at most once.
void read_map(const YAML::Node& node, const std::string& path, const file_ctx& c,
              const std::vector<field>& fields);

}  // namespace iota::config::detail
