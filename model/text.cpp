#include "model/text.hpp"

#include <nlohmann/json.hpp>

namespace iota::model {

std::string_view trim(std::string_view s) {
  constexpr std::string_view space = " \t\r\n\v\f";
  auto b = s.find_first_not_of(space);
  if (b == std::string_view::npos)
    return {};
  auto e = s.find_last_not_of(space);
  return s.substr(b, e - b + 1);
}

std::string quoted(std::string_view s) {
  return nlohmann::json(std::string{s}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace iota::model
