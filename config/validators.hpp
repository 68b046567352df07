#pragma once
// The value checks of the configuration, shared by flags, environment and file, and the one
// error shape they raise. Internal to config/.
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "model/text.hpp"

namespace iota::config::detail {

namespace fs = std::filesystem;

// Thrown inside config/ only; load_settings turns it into load_result::error.
struct config_error {
  std::string message;
};

// A control character as \n, \r, \t or \xNN; anything else as it is.
void append_visible(std::string& out, char c);

std::string one_line(const std::string& s);

// Keeps the message on one line and bounded, whatever the value holds.
std::string escape(const std::string& s);

// The one error shape: config: <key path> (<source>): <what is wrong>, got "<value>"
// Key paths, sources and texts may quote the file's keys and values too (a YAML key may hold
// a newline): control characters are escaped everywhere, so the message is always one line.
[[noreturn]] void fail(const std::string& key, const std::string& source, const std::string& what,
                       const std::string& got);

std::string join(const std::vector<std::string>& items, const char* sep);

using model::trim;

std::vector<std::string> split_list(std::string_view s);

bool starts_with(std::string_view s, std::string_view prefix);

bool valid_port(std::string_view s);

bool valid_host(std::string_view h);

// HOST:PORT with a valid port; `port_optional` accepts a bare HOST too.
bool valid_host_port(std::string_view s, bool port_optional = false);

// "h1:2181,h2:2181[/chroot]" -> the same with blanks around commas removed.
std::string check_zookeeper(const std::string& v, const std::string& key, const std::string& src);

std::string check_kafka_brokers(const std::string& v, const std::string& key,
                                const std::string& src);

std::string check_mqtt_brokers(const std::string& v, const std::string& key,
                               const std::string& src);

std::string check_listen(const std::string& v, const std::string& key, const std::string& src);

std::string check_driver(const std::string& v, const std::string& key, const std::string& src);

std::string check_log_level(const std::string& v, const std::string& key, const std::string& src);

std::string check_non_empty(const std::string& v, const std::string& key, const std::string& src);

std::string check_url(const std::string& v, const std::string& key, const std::string& src);

// A Kubernetes DNS label: pod names and namespaces.
bool valid_dns_label(std::string_view s, std::size_t max_len);

// Table names double as znode names and SQL identifiers: keep them plain.
bool valid_table_name(std::string_view s);

std::string check_namespace(const std::string& v, const std::string& key, const std::string& src);

// A relative path written in the config file is relative to that file's directory.
std::string resolve_path(const fs::path& base, const std::string& p);

}  // namespace iota::config::detail
