#include "server/json_prefix.h"

namespace dsv4::server {
namespace {

constexpr uint16_t kMaxSpaces = 64;

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

bool Utf8Step(uint8_t* pending, char c) {
  const auto b = static_cast<unsigned char>(c);
  if (*pending > 0) {
    if ((b & 0xC0) != 0x80) return false;
    --*pending;
    return true;
  }
  if (b < 0x80) return true;
  if (b >= 0xC2 && b <= 0xDF) *pending = 1;
  else if (b >= 0xE0 && b <= 0xEF) *pending = 2;
  else if (b >= 0xF0 && b <= 0xF4) *pending = 3;
  else return false;
  return true;
}

bool JsonPrefix::CanEnd() const {
  if (mode_ == Mode::kDone) return true;
  if (!stack_.empty()) return false;
  return mode_ == Mode::kZero || mode_ == Mode::kInt || mode_ == Mode::kFrac ||
         mode_ == Mode::kExpDigits;
}

bool JsonPrefix::EndValue() {
  mode_ = stack_.empty() ? Mode::kDone : Mode::kAfterValue;
  return true;
}

bool JsonPrefix::FeedValueStart(char c) {
  const bool top = stack_.empty();
  if (object_only_ && top && c != '{') return false;
  switch (c) {
    case '{': stack_ += '{'; mode_ = Mode::kKeyOrClose; return true;
    case '[': stack_ += '['; mode_ = Mode::kArrayOpen; return true;
    case '"': key_ = false; mode_ = Mode::kString; return true;
    case '-': mode_ = Mode::kMinus; return true;
    case '0': mode_ = Mode::kZero; return true;
    case 't': literal_ = "true"; break;
    case 'f': literal_ = "false"; break;
    case 'n': literal_ = "null"; break;
    default:
      if (c >= '1' && c <= '9') {
        mode_ = Mode::kInt;
        return true;
      }
      return false;
  }
  mode_ = Mode::kLiteral;
  pending_ = 1;
  return true;
}

// A number ends at the first byte that cannot continue it; that byte then belongs to the
// container (a top-level number takes no more bytes: the caller decides it ended).
bool JsonPrefix::FeedAfterNumber(char c) {
  if (stack_.empty()) return false;
  const Mode saved = mode_;
  mode_ = Mode::kAfterValue;
  if (Feed(c)) return true;
  mode_ = saved;
  return false;
}

bool JsonPrefix::Feed(char c) {
  const bool space = IsSpace(c);
  const bool between = mode_ == Mode::kValue || mode_ == Mode::kArrayOpen || mode_ == Mode::kKeyOrClose ||
                       mode_ == Mode::kKey || mode_ == Mode::kColon || mode_ == Mode::kAfterValue;
  if (between && space) {
    if (object_only_ && stack_.empty()) return false;  // starts right at '{'
    if (spaces_ >= kMaxSpaces) return false;
    ++spaces_;
    return true;
  }
  if (between) spaces_ = 0;
  switch (mode_) {
    case Mode::kValue:
      return FeedValueStart(c);
    case Mode::kArrayOpen:
      if (c == ']') {
        stack_.pop_back();
        return EndValue();
      }
      return FeedValueStart(c);
    case Mode::kKeyOrClose:
      if (c == '}') {
        stack_.pop_back();
        return EndValue();
      }
      [[fallthrough]];
    case Mode::kKey:
      if (c != '"') return false;
      key_ = true;
      mode_ = Mode::kString;
      return true;
    case Mode::kColon:
      if (c != ':') return false;
      mode_ = Mode::kValue;
      return true;
    case Mode::kAfterValue:
      if (c == ',') {
        mode_ = stack_.back() == '{' ? Mode::kKey : Mode::kValue;
        return true;
      }
      if ((c == '}' && stack_.back() == '{') || (c == ']' && stack_.back() == '[')) {
        stack_.pop_back();
        return EndValue();
      }
      return false;
    case Mode::kString:
      if (utf8_ > 0 || static_cast<unsigned char>(c) >= 0x80) return Utf8Step(&utf8_, c);
      if (c == '"') {
        if (key_) {
          mode_ = Mode::kColon;
          return true;
        }
        return EndValue();
      }
      if (c == '\\') {
        mode_ = Mode::kEscape;
        return true;
      }
      return static_cast<unsigned char>(c) >= 0x20;
    case Mode::kEscape:
      if (c == 'u') {
        mode_ = Mode::kUnicode;
        pending_ = 4;
        return true;
      }
      if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
          c == 't') {
        mode_ = Mode::kString;
        return true;
      }
      return false;
    case Mode::kUnicode:
      if (!IsHex(c)) return false;
      if (--pending_ == 0) mode_ = Mode::kString;
      return true;
    case Mode::kMinus:
      if (c == '0') mode_ = Mode::kZero;
      else if (IsDigit(c)) mode_ = Mode::kInt;
      else return false;
      return true;
    case Mode::kZero:
    case Mode::kInt:
      if (IsDigit(c) && mode_ == Mode::kInt) return true;
      if (c == '.') {
        mode_ = Mode::kDot;
        return true;
      }
      if (c == 'e' || c == 'E') {
        mode_ = Mode::kExp;
        return true;
      }
      return FeedAfterNumber(c);
    case Mode::kDot:
      if (!IsDigit(c)) return false;
      mode_ = Mode::kFrac;
      return true;
    case Mode::kFrac:
      if (IsDigit(c)) return true;
      if (c == 'e' || c == 'E') {
        mode_ = Mode::kExp;
        return true;
      }
      return FeedAfterNumber(c);
    case Mode::kExp:
      if (c == '+' || c == '-') mode_ = Mode::kExpSign;
      else if (IsDigit(c)) mode_ = Mode::kExpDigits;
      else return false;
      return true;
    case Mode::kExpSign:
      if (!IsDigit(c)) return false;
      mode_ = Mode::kExpDigits;
      return true;
    case Mode::kExpDigits:
      if (IsDigit(c)) return true;
      return FeedAfterNumber(c);
    case Mode::kLiteral:
      if (c != literal_[pending_]) return false;
      if (literal_[++pending_] == '\0') return EndValue();
      return true;
    case Mode::kDone:
      return false;
  }
  return false;
}

}  // namespace dsv4::server
