// Errors of the HTTP APIs: a status code plus a message, rendered in the JSON shape of the
// API that was called. Request parsing throws ApiError; the route wrapper in api_server.cc
// catches it and answers (it never crosses into the engine).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"

namespace dsv4::server {

class ApiError : public Error {
 public:
  ApiError(int status, std::string message) : Error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

// 400 with `message` (the usual case while reading a request body).
inline ApiError BadRequest(const std::string& message) { return ApiError(400, message); }

// OpenAI / DeepSeek envelope: {"error": {"message", "type", "param": null, "code"}}.
nlohmann::ordered_json OpenAIErrorBody(int status, const std::string& message);
// Anthropic envelope: {"type": "error", "error": {"type", "message"}}.
nlohmann::ordered_json AnthropicErrorBody(int status, const std::string& message);

}  // namespace dsv4::server
