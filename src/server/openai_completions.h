// The legacy OpenAI Completions surface (`/v1/completions`, DeepSeek's `/beta/completions`,
// api.md §2.10): a raw prompt continued as plain text, or fill-in-the-middle when a
// `suffix` is given (`<｜fim▁begin｜>prefix<｜fim▁hole｜>suffix<｜fim▁end｜>`, the
// DeepSeek V3 layout, chat-format §8.3; 400 when the tokenizer lacks those tokens).
// Pure functions and a per-request writer; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/generation.h"
#include "server/model_registry.h"
#include "server/request_fields.h"

namespace dsv4::server {

struct CompletionJob {
  ChatJob job;                  // model, sampling, max_tokens (default 16), stop, stream
  std::vector<int32_t> prompt;  // token ids, BOS first
  std::string echo;             // prompt text to put before the output (`echo`)
  int64_t logprobs = -1;        // legacy `logprobs` (top alternatives per token); -1 = off
};

// Validates a request body and builds the prompt; throws ApiError 400.
CompletionJob ParseOpenAICompletion(const Json& body, const ModelRegistry& models,
                                    const tokenizer::Tokenizer& tokenizer, int32_t bos_id);

// Shapes one request's text_completion bodies and chunks (same interface as
// OpenAIChatWriter, so one streaming loop serves both).
class OpenAICompletionWriter {
 public:
  OpenAICompletionWriter(std::string id, std::string model, int64_t created, bool include_usage,
                         std::string echo, double cache_hit_price_ratio);

  Json FirstChunk() const;  // the echoed prompt (or "")
  std::vector<Json> DeltaChunks(const tokenizer::ParserDelta& delta,
                                const std::vector<TokenLogprobInfo>& logprobs = {});
  Json FinalChunk(const GenerationOutcome& outcome) const;
  Json Completion(const std::string& text, const GenerationOutcome& outcome,
                  const std::vector<TokenLogprobInfo>* logprobs) const;

 private:
  Json Chunk(std::string text, Json logprobs, Json finish_reason) const;
  // {tokens, token_logprobs, top_logprobs, text_offset}; offsets count from `offset`.
  Json Logprobs(const std::vector<TokenLogprobInfo>& logprobs, size_t* offset) const;

  std::string id_, model_;
  int64_t created_;
  bool include_usage_;
  std::string echo_;
  double cache_hit_price_ratio_;
  size_t offset_ = 0;  // text_offset of the next streamed token
};

}  // namespace dsv4::server
