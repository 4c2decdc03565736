// Typed reads of optional JSON request fields, shared by the OpenAI and Anthropic
// adapters: a wrong type is a 400 that names the field (never a nlohmann exception
// escaping to the client as a 500).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace dsv4::server {

using Json = nlohmann::ordered_json;

// Each returns nullopt when the field is absent or null; throws ApiError 400 when present
// with the wrong type or out of [lo, hi].
std::optional<bool> OptBool(const Json& body, const char* key);
std::optional<int64_t> OptInt(const Json& body, const char* key, int64_t lo, int64_t hi);
std::optional<double> OptNumber(const Json& body, const char* key, double lo, double hi);
std::optional<std::string> OptString(const Json& body, const char* key);
// A string or an array of strings (OpenAI `stop`); at most `max_items`.
std::vector<std::string> StringOrList(const Json& body, const char* key, size_t max_items);

// The request body as a JSON object; 400 on malformed JSON or a non-object.
Json ParseBody(const std::string& text);

}  // namespace dsv4::server
