#include "io/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace iota::log {

namespace {

std::atomic<int> current{static_cast<int>(level::info)};
std::mutex out_mutex;

const char* label(level l) {
  switch (l) {
    case level::trace: return "TRACE";
    case level::debug: return "DEBUG";
    case level::info: return "INFO ";
    case level::warn: return "WARN ";
    case level::error: return "ERROR";
  }
  return "?    ";
}

}  // namespace

bool set_level(std::string_view name) {
  static constexpr std::pair<std::string_view, level> names[] = {
    {"trace", level::trace}, {"debug", level::debug}, {"info", level::info},
    {"warn", level::warn},   {"error", level::error}};
  for (auto& [n, l] : names)
    if (n == name) {
      set_level(l);
      return true;
    }
  return false;
}

void set_level(level l) { current = static_cast<int>(l); }

bool enabled(level l) { return static_cast<int>(l) >= current.load(std::memory_order_relaxed); }

void write(level l, std::string_view component, std::string_view text) {
  if (!enabled(l))
    return;
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::lock_guard<std::mutex> guard{out_mutex};
  std::fprintf(stderr, "%s.%03dZ %s %.*s %.*s\n", stamp, static_cast<int>(ms), label(l),
               static_cast<int>(component.size()), component.data(),
               static_cast<int>(text.size()), text.data());
}

}  // namespace iota::log
