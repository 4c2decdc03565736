#include "tokenizer/py_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace dsv4::tokenizer {

void AppendPyJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

std::string PyFloatRepr(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  // Shortest round-trip digits in scientific form, then Python's layout rule: fixed
  // notation when -4 <= exponent < 16, otherwise d.ddde+XX.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool negative = false;
  if (!sci.empty() && sci[0] == '-') {
    negative = true;
    sci.erase(0, 1);
  }
  const size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  const int exp = std::stoi(sci.substr(e + 1));
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  std::string out = negative ? "-" : "";
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
      out += digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
    }
  } else {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += eb;
  }
  return out;
}

namespace {

void Dump(const nlohmann::ordered_json& v, std::string* out) {
  using T = nlohmann::ordered_json::value_t;
  switch (v.type()) {
    case T::null:
      out->append("null");
      break;
    case T::boolean:
      out->append(v.get<bool>() ? "true" : "false");
      break;
    case T::number_integer:
      out->append(std::to_string(v.get<int64_t>()));
      break;
    case T::number_unsigned:
      out->append(std::to_string(v.get<uint64_t>()));
      break;
    case T::number_float:
      out->append(PyFloatRepr(v.get<double>()));
      break;
    case T::string:
      AppendPyJsonString(v.get_ref<const std::string&>(), out);
      break;
    case T::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& e : v) {
        if (!first) out->append(", ");
        first = false;
        Dump(e, out);
      }
      out->push_back(']');
      break;
    }
    case T::object: {
      out->push_back('{');
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out->append(", ");
        first = false;
        AppendPyJsonString(it.key(), out);
        out->append(": ");
        Dump(it.value(), out);
      }
      out->push_back('}');
      break;
    }
    default:
      out->append("null");
      break;  // binary / discarded: not produced by parsing
  }
}

}  // namespace

std::string PyJsonDumps(const nlohmann::ordered_json& value) {
  std::string out;
  Dump(value, &out);
  return out;
}

}  // namespace dsv4::tokenizer
