#pragma once
// The Beast-facing half of the codec: a parsed Beast message as the API's http_request.
// Included by the server and its fuzz target only (it pulls in Beast).
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "io/http_codec.hpp"

namespace iota::io {

// The API's view of a parsed message: method, raw target, lower-cased header names, the body
// (moved out). Path and query are left to parse_target.
inline http_request to_http_request(boost::beast::http::request<boost::beast::http::string_body>& message) {
  http_request request;
  auto method = message.method_string();
  request.method.assign(method.data(), method.size());
  auto target = message.target();
  request.target.assign(target.data(), target.size());
  for (const auto& field : message) {
    auto name = field.name_string();
    auto value = field.value();
    request.headers.emplace_back(lower({name.data(), name.size()}),
                                 std::string(value.data(), value.size()));
  }
  request.body = std::move(message.body());
  return request;
}

}  // namespace iota::io
