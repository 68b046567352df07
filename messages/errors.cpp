#include "messages/errors.hpp"

#include <caf/message.hpp>

namespace iota::msg {

std::string refusal_text(const caf::error& e) {
  if (e.category() == refusal_category && e.context().match_elements<std::string>())
    return e.context().get_as<std::string>(0);
  return caf::to_string(e);
}

}  // namespace iota::msg
