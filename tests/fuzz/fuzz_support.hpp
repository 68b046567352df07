#pragma once
// What the libFuzzer targets share: FUZZ_CHECK, a property that must hold for every input
// (std::abort, which libFuzzer reports as a crash with the input), and a scratch directory.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond))         \
      std::abort();      \
  } while (0)

namespace iota::fuzz {

// $TMPDIR (or /tmp)/<prefix>-<pid>, created; removed with its content at exit. libFuzzer runs
// one process per job, so a per-process directory is enough.
struct scratch_dir {
  std::filesystem::path dir;
  explicit scratch_dir(const std::string& prefix) {
    const char* tmp = std::getenv("TMPDIR");
    dir = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") / (prefix + "-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
};

}  // namespace iota::fuzz
