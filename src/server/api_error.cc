#include "server/api_error.h"

namespace dsv4::server {
namespace {

const char* OpenAIType(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    case 503: return "service_unavailable_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

const char* AnthropicType(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

}  // namespace

nlohmann::ordered_json OpenAIErrorBody(int status, const std::string& message) {
  // DeepSeek puts "invalid_request_error" in `code` for every client error [wire].
  const char* code = status < 500 ? "invalid_request_error" : OpenAIType(status);
  return {{"error",
           {{"message", message}, {"type", OpenAIType(status)}, {"param", nullptr}, {"code", code}}}};
}

nlohmann::ordered_json AnthropicErrorBody(int status, const std::string& message) {
  return {{"type", "error"}, {"error", {{"type", AnthropicType(status)}, {"message", message}}}};
}

}  // namespace dsv4::server
