// Pinned Unicode character classes for the pre-tokenizer regexes.
//
// DeepSeek's split patterns use \p{L} \p{M} \p{N} \p{P} \p{S} and \s. PCRE2's own tables
// follow the Unicode version of the PCRE2 build (Debian 12: Unicode 14) and its \s differs
// from JavaScript's, so the same tokenizer.json would split newer characters (recent emoji,
// new CJK extensions) differently from the reference. We rewrite those classes into
// explicit code point ranges generated from the reference's engine
// (tools/tokenizer/gen_unicode_classes.js) before compiling.
#pragma once

#include <string>
#include <string_view>

namespace dsv4::tokenizer {

// `pattern` with \p{L|M|N|P|S}, \P{..} and \s/\S (outside brackets; \p and \s inside)
// replaced by explicit ranges. Everything else is copied unchanged.
std::string ExpandUnicodeClasses(std::string_view pattern);

// Unicode version of the pinned tables, e.g. "17.0".
const char* PinnedUnicodeVersion();

}  // namespace dsv4::tokenizer
