#include "tokenizer/word_cache.h"

namespace dsv4::tokenizer {

bool WordCache::Lookup(std::string_view word, std::vector<int32_t>* out) const {
  Shard& s = ShardOf(word);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.map.find(word);
  if (it == s.map.end()) return false;
  out->insert(out->end(), it->second.begin(), it->second.end());
  return true;
}

void WordCache::Insert(std::string_view word, const int32_t* ids, size_t n) {
  Shard& s = ShardOf(word);
  std::lock_guard<std::mutex> lock(s.mu);
  // Crude but bounded: when a shard is full, start it over. Hot words come back fast.
  if (s.map.size() >= kMaxEntriesPerShard) s.map.clear();
  s.map.emplace(std::string(word), std::vector<int32_t>(ids, ids + n));
}

}  // namespace dsv4::tokenizer
