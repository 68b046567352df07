#pragma once
// Small text helpers shared by the whole tree.
#include <string>
#include <string_view>

namespace iota::model {

// Without leading and trailing whitespace (space, tab, CR, LF, VT, FF).
std::string_view trim(std::string_view s);

// `s` as a JSON string literal, for messages that quote client input: bytes that are not
// UTF-8 become U+FFFD instead of throwing (nlohmann's dump() throws on them).
std::string quoted(std::string_view s);

}  // namespace iota::model
