// The GPT-2 "bytes to unicode" alphabet used by byte-level BPE vocabularies: every
// byte maps to one printable code point, so a token string in tokenizer.json is the
// byte-level spelling of raw bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dsv4::tokenizer {

// Code point that spells byte `b`.
uint32_t ByteToCodePoint(uint8_t b);

// Converts a byte-level token spelling back to raw bytes; nullopt when a character
// is outside the alphabet.
std::optional<std::string> ByteLevelToBytes(std::string_view spelled);

// Raw bytes -> byte-level spelling (UTF-8).
std::string BytesToByteLevel(std::string_view bytes);

}  // namespace dsv4::tokenizer
