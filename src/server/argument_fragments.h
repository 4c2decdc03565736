// Tool-call arguments as streamed fragments: DeepSeek streams a call's arguments a token
// at a time (`{`, `"`, `city`, `":`, ...), OpenAI clients concatenate
// `function.arguments` deltas and Anthropic clients `input_json_delta.partial_json`
// pieces. The output parser yields a call once complete; this splits its JSON the same
// way so clients see (and must handle) fragments.
#pragma once

#include <string>
#include <vector>

namespace dsv4::server {

// Pieces of `json` whose concatenation is `json`: each JSON punctuation byte alone, other
// text in runs of at most 16 bytes, never splitting a UTF-8 character.
std::vector<std::string> ArgumentFragments(const std::string& json);

}  // namespace dsv4::server
