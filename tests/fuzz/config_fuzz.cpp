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
#include "tests/fuzz/fuzz_support.hpp"

namespace fs = std::filesystem;
using namespace iota::config;

namespace {

// The config file, beside the pod templates of the resources it may name.
struct scratch : iota::fuzz::scratch_dir {
  std::string config;
  scratch() : scratch_dir("iota-config-fuzz") {
    for (const char* name : {"iota-dac", "iota-rules-engine", "x"}) {
      fs::create_directories(dir / "templates" / name);
      std::ofstream(dir / "templates" / name / "pod-template.yml") << "command: [\"true\"]\n";
    }
    config = (dir / "config.yml").string();
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
