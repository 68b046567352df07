#pragma once
// One line per event of note: "2026-11-25T06:40:59.123Z INFO  orchestrator[Thing] text".
// Thread-safe; the level is set once from the config (SPEC section 11).
#include <string>
#include <string_view>

namespace iota::log {

enum class level { trace, debug, info, warn, error };

// "trace" | "debug" | "info" | "warn" | "error"; false for anything else.
bool set_level(std::string_view name);
void set_level(level l);
bool enabled(level l);

void write(level l, std::string_view component, std::string_view text);

inline void debug(std::string_view c, std::string_view t) { write(level::debug, c, t); }
inline void info(std::string_view c, std::string_view t) { write(level::info, c, t); }
inline void warn(std::string_view c, std::string_view t) { write(level::warn, c, t); }
inline void error(std::string_view c, std::string_view t) { write(level::error, c, t); }

}  // namespace iota::log
