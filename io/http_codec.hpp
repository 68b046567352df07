#pragma once
// The HTTP/1.1 server's pure parts: request-target parsing (percent-decoding, query), header
// hygiene and response serialisation. No sockets: unit tested in tests/io/http_codec_test.cpp
// and fuzzed with Beast's parser in tests/fuzz/http_request_fuzz.cpp.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "io/http_server.hpp"

namespace iota::io {

// How the server reads requests (the fuzz target configures Beast's parser the same way).
inline constexpr std::size_t max_pipeline = 16;           // outstanding answers before reading pauses
inline constexpr std::uint32_t header_limit = 16 * 1024;  // request line + fields

std::string lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

// %xx (and + as space in query components); false on a broken escape.
bool percent_decode(std::string_view in, bool plus_is_space, std::string& out);

// Splits a request target (origin-form, absolute-form or "*") into its decoded path and
// query parameters; false when malformed.
bool parse_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query);

// A character of an RFC 7230 token, and a token: header field names.
bool is_token_char(char c);
bool valid_header_name(std::string_view name);
// Header values from handlers or echoed from requests: no CR, LF or NUL (no injection).
std::string clean_value(std::string_view value);

// What a response needs to know about its request.
struct response_context {
  bool head_only = false;    // HEAD: headers and Content-Length, no body
  bool close_after = false;  // last response on this connection
  std::string cors_origin;   // echoed in Access-Control-Allow-Origin when not empty
  bool vary_origin = false;
};

// The status line, our headers (framing and connection management are ours: a handler's
// Content-Length, Connection, ... are dropped), CORS, then the body (none for HEAD, 1xx, 204
// and 304).
std::string serialize(const http_response& response, const response_context& ctx);

}  // namespace iota::io
