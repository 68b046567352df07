// libFuzzer: the YAML path of the config loader (config/settings, SPEC sections 8 and 13).
// Each input is written as the config file of a scratch directory that holds the default
// resources' pod templates, then loaded with no flags and no environment.
// Properties: load_settings never throws; it yields settings xor one error line (no
// newline), and loaded settings keep their invariants (resources named, options positive).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/settings.hpp"

namespace fs = std::filesystem;
using namespace iota::config;

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond))         \
      std::abort();      \
  } while (0)

namespace {

// Removed at exit; libFuzzer runs one process per job, so a per-process directory is enough.
struct scratch {
  fs::path dir;
  std::string config;
  scratch() {
    const char* tmp = std::getenv("TMPDIR");
    dir = fs::path(tmp && *tmp ? tmp : "/tmp") / ("iota-config-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    for (const char* name : {"iota-dac", "iota-rules-engine", "x"}) {
      fs::create_directories(dir / "templates" / name);
      std::ofstream(dir / "templates" / name / "pod-template.yml") << "command: [\"true\"]\n";
    }
    config = (dir / "config.yml").string();
  }
  ~scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static scratch s;
  {
    std::ofstream out(s.config, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto result = load_settings({"--config", s.config}, [](const std::string&) {
    return std::optional<std::string>();
  });
  FUZZ_CHECK(result.value.has_value() != !result.error.empty());
  if (!result.value) {
    if (result.error.find('\n') != std::string::npos) {
      std::fprintf(stderr, "error over several lines: %s\n", result.error.c_str());
      std::abort();
    }
    return 0;
  }
  const auto& st = *result.value;
  FUZZ_CHECK(!st.resources.empty());
  for (const auto& r : st.resources) {
    FUZZ_CHECK(!r.resource.empty() && !r.instance_name.empty());
    FUZZ_CHECK(r.options.init_instances >= 1 && r.options.max_instances >= 1 &&
               r.options.resource_per_instance >= 1);
    FUZZ_CHECK(r.inventory.file.empty() != r.inventory.postgres.empty());
  }
  return 0;
}
