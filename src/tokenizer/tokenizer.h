// A Hugging Face tokenizer.json byte-level BPE tokenizer, as DeepSeek V3/V4 ship it:
// added tokens matched first, then the regex Split sequence, then BPE by merge rank.
// No special tokens are ever added implicitly (the chat encoder writes BOS itself).
//
// Ownership/threading: immutable after loading; all methods are const and safe to call
// from many threads. Share one instance (it holds ~130K vocabulary entries).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pre_tokenizer.h"

namespace dsv4::tokenizer {

class WordCache;

class Tokenizer {
 public:
  // `path` is a tokenizer.json file or a model directory that contains one.
  static Result<Tokenizer> FromFile(const std::string& path);
  // Parses the contents of a tokenizer.json.
  static Result<Tokenizer> FromJson(std::string_view json_text);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Token ids of raw text (any bytes; invalid UTF-8 is encoded through its bytes).
  // With `match_added_tokens` false the added tokens are not recognised, so text such
  // as "<｜User｜>" becomes ordinary BPE pieces (for untrusted content; chat-format §1.5).
  std::vector<int32_t> Encode(std::string_view text, bool match_added_tokens = true) const;
  void EncodeAppend(std::string_view text, bool match_added_tokens,
                    std::vector<int32_t>* out) const;

  // Like EncodeAppend with added tokens matched, but a match is used only where
  // `allow(offset, length)` says so; elsewhere its text stays ordinary text. The pieces
  // between used matches are tokenized whole, so with no rejected match this equals Encode.
  void EncodeAppendFiltered(std::string_view text, const std::function<bool(size_t, size_t)>& allow,
                            std::vector<int32_t>* out) const;

  // Raw bytes of the ids concatenated (exact inverse of Encode). Unknown ids add nothing.
  std::string Decode(std::span<const int32_t> ids) const;
  // Decode() made valid UTF-8 the way Hugging Face does (ill-formed bytes -> U+FFFD).
  std::string DecodeText(std::span<const int32_t> ids) const;

  // Raw bytes of one token; empty for an unknown id.
  std::string_view TokenBytes(int32_t id) const;
  // Id of an added token's content or of a vocabulary entry's raw bytes.
  std::optional<int32_t> TokenId(std::string_view content) const;
  bool IsAddedToken(int32_t id) const;
  bool IsKnown(int32_t id) const { return id >= 0 && id < vocab_size() && known_[id]; }

  // Turns the per-word BPE cache off (benchmarks measure both ways). Not thread-safe:
  // call before sharing the tokenizer.
  void set_word_cache_enabled(bool enabled) { cache_enabled_ = enabled; }

  // One past the largest id.
  int32_t vocab_size() const { return static_cast<int32_t>(bytes_of_.size()); }
  const std::vector<AddedToken>& added_tokens() const { return added_; }
  const std::vector<std::string>& split_patterns() const { return splitter_.patterns(); }
  size_t num_merges() const { return bpe_.num_merges(); }

 private:
  Tokenizer(BpeModel bpe, RegexSplitter splitter);
  void EncodeOrdinary(std::string_view text, std::vector<int32_t>* out) const;

  BpeModel bpe_;
  RegexSplitter splitter_;
  AddedTokenMatcher added_matcher_;
  std::vector<AddedToken> added_;
  std::vector<std::string> bytes_of_;  // id -> raw bytes
  std::vector<uint8_t> known_;         // id -> defined?
  std::vector<uint8_t> is_added_;      // id -> added token?
  std::unique_ptr<WordCache> cache_;
  bool cache_enabled_ = true;
};

}  // namespace dsv4::tokenizer
