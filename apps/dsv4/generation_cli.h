// What `dsv4 run` and `dsv4 chat` share: the model, the optional tokenizer, the engine and
// the sampling flags, plus the terminal rendering of a streamed generation.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "args.h"
#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::cli {

// Flags of both commands (besides each command's own).
std::set<std::string> GenerationFlags();    // --no-act-quant, --think, --no-think
std::set<std::string> GenerationOptions();  // --model, --tokenizer, --temperature, ...

// argv with the short forms -p and -n spelled as --prompt and --max-tokens.
std::vector<char*> ExpandShortFlags(int argc, char** argv, std::vector<std::string>* storage);

struct GenerationSetup {
  std::unique_ptr<Model> model;
  std::optional<tokenizer::Tokenizer> tokenizer;
  std::string tokenizer_note;  // why there is none, for messages
  std::unique_ptr<Engine> engine;
  SamplingParams sampling;
  int64_t max_tokens = -1;
};

// Loads the model (--model, default kDefaultModelDir) and the tokenizer (--tokenizer, or
// tokenizer.json in the model directory), starts the engine thread; `prefix_cache_bytes`
// > 0 turns on the engine's prefix cache (chat: each turn extends the last).
GenerationSetup SetUpGeneration(const Args& args, int64_t default_max_tokens,
                                int64_t prefix_cache_bytes = 0);

// Whether --think / --no-think asks for thinking (default: on, DeepSeek's default).
bool ThinkingRequested(const Args& args);

// Wraps text for dimmed display when stdout is a terminal.
std::string Dim(const std::string& text);

}  // namespace dsv4::cli
