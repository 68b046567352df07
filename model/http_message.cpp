#include "model/http_message.hpp"

#include <nlohmann/json.hpp>

namespace iota::model {

http_response json_error(int status, const std::string& text) {
  http_response response;
  response.status = status;
  response.content_type = "application/json";
  // replace: a message quoting client input must not throw on invalid UTF-8.
  response.body = nlohmann::json{{"error", text}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

}  // namespace iota::model
