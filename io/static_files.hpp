#pragma once
// The dashboard's files (SPEC section 11), served by the HTTP server's handler.
#include <optional>
#include <string>

#include "io/http_server.hpp"

namespace iota::io {

// A file under `root` for a request path ("/" -> index.html), refusing anything that would
// leave `root` (.., encoded dots, symlinks out); nullopt when no such file. Blocking: call it
// on an io thread, never on an actor's.
std::optional<http_response> serve_static(const std::string& root, const std::string& path);

}  // namespace iota::io
