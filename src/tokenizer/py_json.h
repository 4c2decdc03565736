// JSON text exactly as Python's json.dumps(value, ensure_ascii=False) writes it — the
// serialisation DeepSeek's reference encoder uses for tool schemas, response formats and
// non-string tool arguments (chat-format §2.10). Byte-exactness keeps prompts identical
// to the reference and stable for prefix caching.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace dsv4::tokenizer {

// Separators ", " and ": "; keys in stored order (use nlohmann::ordered_json to keep the
// request's order); non-ASCII raw; floats in Python repr form (1.0, 1e-05, 1e+16).
std::string PyJsonDumps(const nlohmann::ordered_json& value);

// Python repr of a double (shortest round-trip digits).
std::string PyFloatRepr(double v);

// A JSON string literal with Python's escaping (ensure_ascii=False).
void AppendPyJsonString(std::string_view s, std::string* out);

}  // namespace dsv4::tokenizer
