// An incremental JSON syntax checker for constrained decoding: fed one byte at a time, it
// refuses the first byte after which the text could no longer be the prefix of a valid
// JSON value, and says when the value is complete. Copyable and small, so a candidate
// token can be tried on a copy.
#pragma once

#include <cstdint>
#include <string>

namespace dsv4::server {

// One byte of UTF-8 well-formedness checking: `pending` continuation bytes are due.
// False for a byte that cannot come next (stray continuation, bad lead byte).
bool Utf8Step(uint8_t* pending, char c);

class JsonPrefix {
 public:
  // `object_only`: the value must be an object (response_format json_object).
  explicit JsonPrefix(bool object_only = false) : object_only_(object_only) {}

  // Consumes `c`; false (and no change) when `c` cannot come next.
  bool Feed(char c);
  // The value is complete; nothing more is accepted.
  bool Complete() const { return mode_ == Mode::kDone; }
  // The text so far is a complete value if it ends here (a number may still go on).
  bool CanEnd() const;

 private:
  enum class Mode : uint8_t {
    kValue,        // a value is due (whitespace allowed)
    kArrayOpen,    // after '[': a value or ']'
    kKeyOrClose,   // after '{': a key or '}'
    kKey,          // after ',' in an object: a key
    kColon,        // after a key
    kAfterValue,   // after a value inside a container: ',' or the closing bracket
    kString,       // inside a string
    kEscape,       // after a backslash
    kUnicode,      // in \uXXXX; pending_ hex digits left
    kMinus,        // number: after '-'
    kZero,         // number: a leading 0
    kInt,          // number: integer digits
    kDot,          // number: after '.'
    kFrac,         // number: fraction digits
    kExp,          // number: after e/E
    kExpSign,      // number: after the exponent's sign
    kExpDigits,    // number: exponent digits
    kLiteral,      // true / false / null: literal_ from index pending_
    kDone,
  };
  bool FeedValueStart(char c);
  bool EndValue();  // a value ended: back to the container, or done
  bool FeedAfterNumber(char c);

  std::string stack_;  // open containers, '{' or '['
  Mode mode_ = Mode::kValue;
  bool key_ = false;   // the string being read is an object key
  bool object_only_;
  const char* literal_ = nullptr;
  uint8_t pending_ = 0;
  uint8_t utf8_ = 0;     // continuation bytes due inside a string
  uint16_t spaces_ = 0;  // consecutive whitespace (capped, so it cannot run forever)
};

}  // namespace dsv4::server
