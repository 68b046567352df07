#pragma once
// Small text helpers shared by the whole tree.
#include <string_view>

namespace iota::model {

// Without leading and trailing whitespace (space, tab, CR, LF, VT, FF).
std::string_view trim(std::string_view s);

}  // namespace iota::model
