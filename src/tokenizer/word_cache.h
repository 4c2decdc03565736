// A bounded, thread-safe cache of BPE results per pre-token. Agent prompts repeat the
// same words (and the same 20-100K token history every turn), so most pre-tokens hit.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dsv4::tokenizer {

class WordCache {
 public:
  // Words longer than this are not cached (rare, and they would crowd the cache).
  static constexpr size_t kMaxWordBytes = 64;

  // Copies the cached ids of `word` into `out`; false on a miss.
  bool Lookup(std::string_view word, std::vector<int32_t>* out) const;
  void Insert(std::string_view word, const int32_t* ids, size_t n);

 private:
  static constexpr size_t kShards = 16;
  static constexpr size_t kMaxEntriesPerShard = 1 << 14;
  // Transparent hashing: look up by string_view without building a std::string.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, std::vector<int32_t>, Hash, std::equal_to<>> map;
  };
  Shard& ShardOf(std::string_view word) const {
    return shards_[std::hash<std::string_view>{}(word) % kShards];
  }
  mutable Shard shards_[kShards];
};

}  // namespace dsv4::tokenizer
