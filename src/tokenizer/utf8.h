// UTF-8 helpers shared by the tokenizer, the incremental decoder and the parsers.
// Everything here works on raw bytes (std::string / std::string_view) and never throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dsv4::tokenizer {

// Appends the UTF-8 encoding of code point `cp` (must be <= 0x10FFFF).
void AppendUtf8(uint32_t cp, std::string* out);

// True when `bytes` is well-formed UTF-8 (no surrogates, no overlongs).
bool IsValidUtf8(std::string_view bytes);

// A streaming UTF-8 decoder that replaces ill-formed input with U+FFFD using the
// "maximal subpart" rule (WHATWG Encoding / Unicode 3.9), which is what Rust's
// String::from_utf8_lossy and JavaScript's TextDecoder do — and therefore what a
// Hugging Face `decode` returns for byte-level tokens that do not form valid UTF-8.
// Feeding a byte stream in any split gives the same output as one call on the
// whole stream: bytes that may still become a valid character are held back.
class Utf8Sanitizer {
 public:
  // Decodes `bytes`, appending finished valid text to `out`.
  void Push(std::string_view bytes, std::string* out);
  // End of input: a held incomplete sequence becomes one U+FFFD.
  void Finish(std::string* out);
  // Bytes currently held back (0..3).
  size_t pending() const { return pending_len_; }

 private:
  void PushByte(uint8_t b, std::string* out);
  uint8_t pending_[4] = {0, 0, 0, 0};
  size_t pending_len_ = 0;
  int needed_ = 0;        // continuation bytes still expected
  uint8_t lower_ = 0x80;  // allowed range of the next continuation byte
  uint8_t upper_ = 0xBF;
};

// Whole-string form of Utf8Sanitizer.
std::string SanitizeUtf8(std::string_view bytes);

// Length of the longest prefix of `bytes` that ends on a code point boundary, assuming
// the rest may be completed later (an incomplete trailing sequence is excluded).
size_t CompletePrefixLength(std::string_view bytes);

}  // namespace dsv4::tokenizer
