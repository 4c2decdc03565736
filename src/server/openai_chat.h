// The OpenAI Chat Completions surface as DeepSeek serves it (api.md §2): request body ->
// ChatJob, and generation output -> a chat.completion body or chat.completion.chunk
// stream events. Pure functions and a small per-request writer; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/generation.h"
#include "server/model_registry.h"
#include "server/request_fields.h"

namespace dsv4::server {

// Validates and converts a request body; throws ApiError 400 (DeepSeek's texts where known).
// `strict_reasoning_replay`: DeepSeek's 400 when a thinking-mode tool conversation omits
// an assistant tool-call turn's reasoning_content (else it renders as empty reasoning).
ChatJob ParseOpenAIChat(const Json& body, const ModelRegistry& models,
                        bool strict_reasoning_replay = true);

// OpenAI `logit_bias` ({"token id": bias in [-100, 100]}) into `sampling`; 400 if malformed.
void ParseLogitBias(const Json& body, SamplingParams* sampling);

// usage: prompt/completion/total, prompt_cache_hit/miss_tokens, prompt_tokens_details.
// cached_tokens, completion_tokens_details.reasoning_tokens in thinking mode, and `cost`
// (USD, this request, from the price table of usage_meter.h).
Json OpenAIUsage(const GenerationUsage& usage, bool thinking, const std::string& model,
                 double cache_hit_price_ratio);
// "stop", "length" or "tool_calls".
std::string OpenAIFinishReason(const GenerationOutcome& outcome);

// Shapes one request's responses. `id` is the completion id (a UUID, like DeepSeek).
class OpenAIChatWriter {
 public:
  OpenAIChatWriter(std::string id, std::string model, int64_t created, bool thinking,
                   bool include_usage, double cache_hit_price_ratio = 0.1);

  // Streaming: the first chunk (role), chunks for one parser delta (possibly none), and
  // the final chunk with finish_reason (and usage when include_usage).
  Json FirstChunk() const;
  // `logprobs` (this step's tokens) ride on the first chunk sent; with no chunk to carry
  // them they wait for the next one.
  std::vector<Json> DeltaChunks(const tokenizer::ParserDelta& delta,
                                const std::vector<TokenLogprobInfo>& logprobs = {});
  Json FinalChunk(const GenerationOutcome& outcome) const;

  // Non-streaming: the whole chat.completion body.
  // `logprobs`: every generated token's, when the request asked for them.
  Json Completion(const tokenizer::ParsedOutput& output, const GenerationOutcome& outcome,
                  const std::vector<TokenLogprobInfo>* logprobs = nullptr) const;

 private:
  Json Chunk(Json delta, Json finish_reason) const;
  std::string id_, model_;
  int64_t created_;
  bool thinking_, include_usage_;
  double cache_hit_price_ratio_;
  std::vector<TokenLogprobInfo> pending_logprobs_;
};

// {"content": [...], "reasoning_content": [...]}: OpenAI logprob entries (token, logprob,
// bytes, top_logprobs), split by whether the token was reasoning.
Json OpenAILogprobs(const std::vector<TokenLogprobInfo>& logprobs);

}  // namespace dsv4::server
