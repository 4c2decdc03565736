// Added tokens (BOS, <｜User｜>, </think>, ｜DSML｜, ...): literal strings matched as
// atomic units before BPE, leftmost-longest, anywhere in the text — the behaviour of
// Hugging Face's AddedVocabulary and of transformers.js.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dsv4::tokenizer {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;
};

class AddedTokenMatcher {
 public:
  void Add(const AddedToken& token);

  struct Match {
    size_t offset = 0;
    size_t length = 0;  // 0: no match
    int32_t id = -1;
  };
  // The leftmost match starting at or after `from`, the longest one at that offset.
  Match FindNext(std::string_view text, size_t from) const;

  bool empty() const { return count_ == 0; }

 private:
  // Trie over bytes: edges keyed by (node << 8 | byte).
  std::unordered_map<uint64_t, int32_t> edges_;
  std::vector<int32_t> token_at_;  // node -> id, or -1
  bool first_byte_[256] = {};
  size_t count_ = 0;
};

}  // namespace dsv4::tokenizer
