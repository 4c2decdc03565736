// One chat generation as the HTTP adapters see it: a native ChatJob in, parsed pieces
// (reasoning, content, tool calls) out, with usage. Encoding and tokenising run on the
// calling (HTTP) thread; only token ids and options cross into the engine.
//
// Threading: one Generation per request, used by one HTTP thread; Cancel() may be called
// from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "server/output_constraint.h"
#include "tokenizer/chat_types.h"
#include "tokenizer/output_parser.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::server {

// What both API surfaces reduce a request to.
struct ChatJob {
  std::string model;  // the name to echo back
  tokenizer::ChatRequest chat;
  SamplingParams sampling;
  int64_t max_tokens = -1;  // -1 = up to the context limit
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;  // OpenAI stream_options.include_usage
  bool logprobs = false;       // OpenAI logprobs / top_logprobs
  int64_t top_logprobs = 0;
  // Enforced answer shape (constrained decoding, see OutputConstraint): a JSON object
  // (response_format json_object) or a tool-call block (tool_choice required / named).
  enum class Shape { kFree, kJsonObject, kToolCall };
  Shape shape = Shape::kFree;
  std::vector<std::string> forced_tools;  // kToolCall: the tools it may call; empty = any
  bool parallel_tool_calls = true;        // kToolCall: more than one call allowed
};

// A token and its log-probability.
struct TopLogprob {
  std::string token;  // its text (ill-formed UTF-8 -> U+FFFD)
  std::string bytes;  // its raw bytes
  float logprob = 0.0f;
};

// One generated token's log-probability (OpenAI `logprobs.content[]` entries).
struct TokenLogprobInfo {
  std::string token;  // its text (ill-formed UTF-8 -> U+FFFD)
  std::string bytes;  // its raw bytes
  float logprob = 0.0f;
  std::vector<TopLogprob> top;  // the most likely tokens, most likely first
  bool reasoning = false;  // generated while the model was reasoning
};

struct GenerationUsage {
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;  // prompt tokens served from the prefix cache
  int64_t completion_tokens = 0;
  int64_t reasoning_tokens = 0;  // generated while the model was still reasoning
};

struct GenerationOutcome {
  FinishReason finish = FinishReason::kNone;
  bool stop_string = false;  // kStop came from a stop string (not EOS)
  std::string error;         // kError
  GenerationUsage usage;
  bool tool_calls = false;  // the output held at least one complete tool call
};

// Renders and tokenises a chat (throws ApiError 400 when the encoder refuses it).
struct PreparedPrompt {
  std::vector<int32_t> ids;
  bool starts_in_reasoning = false;
};
PreparedPrompt PreparePrompt(const tokenizer::Tokenizer& tokenizer,
                             const tokenizer::ChatRequest& chat);

class Generation {
 public:
  // Submits the job; throws ApiError (400 bad input or prompt too long, 503 overloaded).
  Generation(Engine& engine, const tokenizer::Tokenizer& tokenizer, const ChatJob& job);
  // A raw completion of `prompt` (job.chat is not used): the output is plain text in
  // ParserDelta::content, nothing is parsed out of it.
  Generation(Engine& engine, const tokenizer::Tokenizer& tokenizer, const ChatJob& job,
             std::vector<int32_t> prompt);
  ~Generation();  // cancels an unfinished generation (e.g. the client went away)
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  // Blocks for the next piece of output; false once the generation has ended (then
  // outcome() is final and `delta` holds the parser's flushed tail).
  // With `logprobs` (and job.logprobs), the token's log-probability is appended.
  bool Next(tokenizer::ParserDelta* delta, std::vector<TokenLogprobInfo>* logprobs = nullptr);
  void Cancel();

  const GenerationOutcome& outcome() const { return outcome_; }
  const tokenizer::ParsedOutput& parsed() const { return parser_.result(); }
  int64_t prompt_tokens() const { return prompt_tokens_; }
  const std::string& raw_text() const { return raw_text_; }  // raw completions: the output
  bool thinking() const { return thinking_; }

 private:
  Engine& engine_;
  const tokenizer::Tokenizer& tokenizer_;
  RequestStream stream_;
  uint64_t id_ = 0;
  bool done_ = false;
  bool thinking_ = false;
  int32_t eos_ = -1;
  int64_t prompt_tokens_ = 0;
  void Submit(const ChatJob& job, std::vector<int32_t> prompt, SamplingParams sampling);

  bool raw_ = false;
  std::string raw_text_;
  tokenizer::OutputParser parser_;
  std::shared_ptr<OutputConstraint> constraint_;  // enforced shape; null = free
  GenerationOutcome outcome_;
};

}  // namespace dsv4::server
