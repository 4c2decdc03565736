#include "tokenizer/added_tokens.h"

namespace dsv4::tokenizer {

void AddedTokenMatcher::Add(const AddedToken& token) {
  if (token.content.empty()) return;
  if (token_at_.empty()) token_at_.push_back(-1);  // root
  int32_t node = 0;
  for (char c : token.content) {
    const uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<uint8_t>(c);
    auto it = edges_.find(key);
    if (it == edges_.end()) {
      const int32_t child = static_cast<int32_t>(token_at_.size());
      token_at_.push_back(-1);
      edges_.emplace(key, child);
      node = child;
    } else {
      node = it->second;
    }
  }
  token_at_[node] = token.id;
  first_byte_[static_cast<uint8_t>(token.content[0])] = true;
  ++count_;
}

AddedTokenMatcher::Match AddedTokenMatcher::FindNext(std::string_view text, size_t from) const {
  if (count_ == 0) return {};
  for (size_t i = from; i < text.size(); ++i) {
    if (!first_byte_[static_cast<uint8_t>(text[i])]) continue;
    int32_t node = 0;
    Match best;
    for (size_t j = i; j < text.size(); ++j) {
      const uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<uint8_t>(text[j]);
      auto it = edges_.find(key);
      if (it == edges_.end()) break;
      node = it->second;
      if (token_at_[node] >= 0) best = Match{i, j - i + 1, token_at_[node]};
    }
    if (best.length > 0) return best;
  }
  return {};
}

}  // namespace dsv4::tokenizer
