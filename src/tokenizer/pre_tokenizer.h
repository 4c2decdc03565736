// The pre-tokenizer of DeepSeek's tokenizer.json: a sequence of regex `Split`s with
// behaviour "Isolated" (every match and every gap between matches becomes a piece),
// each applied to the pieces of the previous one. Regexes run on PCRE2 (JIT, UTF, UCP).
//
// Thread safety: Split() is const and may be called from many threads at once
// (PCRE2 match data is per thread).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace dsv4::tokenizer {

class RegexSplitter {
 public:
  // Compiles the patterns (PCRE2 syntax, as written in tokenizer.json).
  static Result<RegexSplitter> Create(const std::vector<std::string>& patterns);
  RegexSplitter(RegexSplitter&&) noexcept;
  RegexSplitter& operator=(RegexSplitter&&) noexcept;
  ~RegexSplitter();

  // Calls `emit(offset, length)` for each final piece of `text`, in order; the pieces
  // tile the text exactly (bytes that no regex matches, such as invalid UTF-8, end
  // up in gap pieces).
  void Split(std::string_view text, const std::function<void(size_t, size_t)>& emit) const;

  const std::vector<std::string>& patterns() const { return patterns_; }

 public:
  struct Compiled;  // a PCRE2 pattern (public for the compile helper only)

 private:
  RegexSplitter() = default;
  void SplitLevel(size_t level, std::string_view text, size_t base,
                  const std::function<void(size_t, size_t)>& emit) const;

  std::vector<std::string> patterns_;
  // Two compilations of the patterns: with PCRE2's own Unicode classes (fast) and with
  // the pinned ones (unicode_classes.h); each piece uses the pinned one only when it
  // holds a code point on which the two disagree.
  std::vector<std::unique_ptr<Compiled>> native_;
  std::vector<std::unique_ptr<Compiled>> pinned_;
};

}  // namespace dsv4::tokenizer
