#pragma once
// Whole-file reads and replace-by-rename writes, one implementation for the tree.
#include <optional>
#include <string>

namespace iota::io {

// The file's bytes; nullopt when it cannot be opened or read.
std::optional<std::string> read_file(const std::string& path);

// Writes `content` to a temporary name beside `path` and renames it over `path`, so a reader
// sees the old content or the new, never a part. `sync`: fsync before the rename (survives a
// power cut). False (errno set, nothing replaced) on any failure.
bool write_file_atomically(const std::string& path, const std::string& content, bool sync = false);

}  // namespace iota::io
