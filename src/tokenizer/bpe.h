// Byte-level BPE model: merges applied by rank to the raw bytes of one pre-token.
//
// Tokens are stored as raw bytes (the GPT-2 byte alphabet of tokenizer.json is undone
// at load time), so encoding never converts text to the byte-level spelling.
// Thread safety: const methods may be called concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace dsv4::tokenizer {

class BpeModel {
 public:
  // vocab: (raw bytes, id) pairs; merges: (left raw bytes, right raw bytes) by rank.
  static Result<BpeModel> Create(std::vector<std::pair<std::string, int32_t>> vocab,
                                 const std::vector<std::pair<std::string, std::string>>& merges);

  // Appends the ids of one pre-token (raw bytes, non-empty).
  void EncodeWord(std::string_view word, std::vector<int32_t>* out) const;

  // -1 when `bytes` is not a vocabulary entry.
  int32_t Find(std::string_view bytes) const;

  // Id of a single byte (every byte has one in a byte-level vocabulary).
  int32_t ByteId(uint8_t b) const { return byte_ids_[b]; }

  size_t num_merges() const { return num_merges_; }

 private:
  struct Merge {
    uint64_t key;  // (left id << 32) | right id; kEmpty when the slot is free
    int32_t rank;
    int32_t merged;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  // Open-addressing table of merges keyed by the id pair: the BPE inner loop is one
  // lookup per adjacent pair, so this is the hot path.
  const Merge* FindMerge(int32_t left, int32_t right) const {
    const uint64_t key =
        (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
    size_t i = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
    while (true) {
      const Merge& m = table_[i];
      if (m.key == key) return &m;
      if (m.key == kEmpty) return nullptr;
      i = (i + 1) & mask_;
    }
  }
  void EncodeSmall(std::string_view word, std::vector<int32_t>* out) const;
  void EncodeLarge(std::string_view word, std::vector<int32_t>* out) const;

  std::vector<Merge> table_;
  size_t mask_ = 0;
  int shift_ = 0;
  size_t num_merges_ = 0;
  int32_t byte_ids_[256];
  // bytes -> id for Find() (transparent: looked up by string_view).
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> by_bytes_;
};

}  // namespace dsv4::tokenizer
