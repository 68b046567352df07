#pragma once
// Durations as written in the config file and on the command line: "500ms", "90s", "10m", "1h".
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace iota::model {

// Returns nullopt for anything that is not <digits><unit> with unit ms, s, m or h,
// or that overflows; zero is allowed ("0s").
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// The shortest exact spelling: 90000ms -> "90s", 600000ms -> "10m", 1500ms -> "1500ms".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace iota::model
