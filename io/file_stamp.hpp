#pragma once
// What changes when a file is rewritten or replaced (a rename over it, a Kubernetes Secret
// update): its modification time and size. Header-only: the tokens file (iota_io) and the TLS
// files (iota_http) are both watched with it.
#include <sys/stat.h>

#include <string>

namespace iota::io {

// "" when the file cannot be looked at.
inline std::string file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return {};
  return std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
         std::to_string(st.st_size);
}

}  // namespace iota::io
