#include "server/request_fields.h"

#include <cmath>

#include "server/api_error.h"

namespace dsv4::server {
namespace {

const Json* Field(const Json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

ApiError WrongType(const char* key, const char* expected) {
  return BadRequest(std::string("Failed to deserialize the JSON body into the target type: ") +
                    key + ": invalid type, expected " + expected);
}

}  // namespace

std::optional<bool> OptBool(const Json& body, const char* key) {
  const Json* v = Field(body, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) throw WrongType(key, "a boolean");
  return v->get<bool>();
}

std::optional<int64_t> OptInt(const Json& body, const char* key, int64_t lo, int64_t hi) {
  const Json* v = Field(body, key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) throw WrongType(key, "an integer");
  const int64_t x = v->get<int64_t>();
  if (x < lo || x > hi) {
    throw BadRequest(std::string("Invalid '") + key + "': " + std::to_string(x) +
                     " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return x;
}

std::optional<double> OptNumber(const Json& body, const char* key, double lo, double hi) {
  const Json* v = Field(body, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw WrongType(key, "a number");
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) {
    throw BadRequest(std::string("Invalid '") + key + "': " + v->dump() + " is out of range [" +
                     Json(lo).dump() + ", " + Json(hi).dump() + "]");
  }
  return x;
}

std::optional<std::string> OptString(const Json& body, const char* key) {
  const Json* v = Field(body, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw WrongType(key, "a string");
  return v->get<std::string>();
}

std::vector<std::string> StringOrList(const Json& body, const char* key, size_t max_items) {
  const Json* v = Field(body, key);
  if (!v) return {};
  std::vector<std::string> out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    for (const Json& s : *v) {
      if (!s.is_string()) throw WrongType(key, "a string or an array of strings");
      out.push_back(s.get<std::string>());
    }
  } else {
    throw WrongType(key, "a string or an array of strings");
  }
  if (out.size() > max_items) {
    throw BadRequest(std::string("Invalid '") + key + "': at most " + std::to_string(max_items) +
                     " items");
  }
  std::erase(out, std::string());
  return out;
}

Json ParseBody(const std::string& text) {
  Json body = Json::parse(text, nullptr, false);
  if (body.is_discarded()) {
    throw BadRequest("Failed to parse the request body as JSON");
  }
  if (!body.is_object()) {
    throw BadRequest("Failed to deserialize the JSON body into the target type: expected an object");
  }
  return body;
}

}  // namespace dsv4::server
