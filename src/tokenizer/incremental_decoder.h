// Streaming detokenizer: turns generated ids into text one id at a time.
//
// Byte-level tokens can end in the middle of a UTF-8 character; this holds those bytes
// back until the character completes, so every returned chunk is valid UTF-8 and the
// concatenation of all chunks (plus Finish()) equals tokenizer.DecodeText(all ids) —
// what a Hugging Face decode of the whole sequence returns. Bytes that can never
// become valid turn into U+FFFD as soon as that is certain, never earlier.
//
// Added tokens (</think>, ｜DSML｜, EOS, ...) are rendered as their text: the output
// parser needs them (chat-format §1.2: never skip special tokens when parsing).
// Not thread-safe: one instance per generated sequence.
#pragma once

#include <cstdint>
#include <string>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace dsv4::tokenizer {

class IncrementalDecoder {
 public:
  explicit IncrementalDecoder(const Tokenizer& tokenizer) : tokenizer_(&tokenizer) {}

  // Returns the text that became final with this id (possibly empty).
  std::string Push(int32_t id);
  // End of the sequence: returns what is still held (an unfinished character -> U+FFFD).
  std::string Finish();
  // Bytes held back waiting for the rest of a character.
  size_t pending_bytes() const { return sanitizer_.pending(); }

 private:
  const Tokenizer* tokenizer_;
  Utf8Sanitizer sanitizer_;
};

}  // namespace dsv4::tokenizer
