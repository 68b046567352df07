#pragma once
// A depth guard for untrusted JSON (notifies, heartbeats, request bodies).
#include <cstddef>
#include <string_view>

namespace iota::model {

// Whether JSON `text` nests arrays/objects at most `max_depth` deep, by a pre-scan, so that
// hostile nesting is refused before any parser or DOM walker sees it. Only brackets outside
// strings count: exact on valid JSON; on invalid JSON it may be off, which does not matter
// because the parser rejects such input anyway.
bool json_nesting_within(std::string_view text, std::size_t max_depth);

}  // namespace iota::model
