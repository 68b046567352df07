#pragma once
// One HTTP request and its response as plain values: the server decodes into them and the
// REST API actor answers with them, so neither the actor nor its messages see the server.
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace iota::model {

struct http_request {
  std::string method;                              // "GET", "POST", ...
  std::string target;                              // as received: path + query
  std::string path;                                // percent-decoded path, no query
  std::map<std::string, std::string> query;        // decoded query parameters
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string peer;  // the client's address, "127.0.0.1:50312" ("" when unknown)

  // "" when absent
  std::string header(const std::string& lower_name) const {
    for (const auto& [name, value] : headers)
      if (name == lower_name)
        return value;
    return {};
  }
};

struct http_response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// {"error":"<text>"} with the given status (invalid UTF-8 in the text is replaced).
http_response json_error(int status, const std::string& text);

}  // namespace iota::model
