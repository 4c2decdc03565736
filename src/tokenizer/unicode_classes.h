// Pinned Unicode character classes for the pre-tokenizer regexes.
//
// DeepSeek's split patterns use \p{L} \p{M} \p{N} \p{P} \p{S} and \s. PCRE2's own tables
// follow the Unicode version of the PCRE2 build (Debian 12: Unicode 14) and its \s differs
// from JavaScript's, so the same tokenizer.json would split newer characters (recent emoji,
// new CJK extensions) differently from the reference. We rewrite those classes into
// explicit code point ranges generated from the reference's engine
// (tools/tokenizer/gen_unicode_classes.js) before compiling. Where PCRE2's class is a
// subset of the pinned one we keep PCRE2's class and add only the missing ranges; the
// comparison runs once per process (~0.1 s).
#pragma once

#include <string>
#include <string_view>

namespace dsv4::tokenizer {

// `pattern` with \p{L|M|N|P|S}, \P{..} and \s/\S (outside brackets; \p and \s inside)
// replaced by explicit ranges. Everything else is copied unchanged.
std::string ExpandUnicodeClasses(std::string_view pattern);

// True when `text` holds a code point whose membership in one of those classes differs
// between PCRE2's tables and the pinned ones. Text without such code points splits the
// same under the original patterns, which PCRE2 runs faster (native property tests).
bool NeedsPinnedClasses(std::string_view text);

// Unicode version of the pinned tables, e.g. "17.0".
const char* PinnedUnicodeVersion();

}  // namespace dsv4::tokenizer
