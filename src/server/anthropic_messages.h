// The Anthropic Messages surface (api.md §3, §4): request body -> ChatJob (system string
// or blocks, thinking/text/tool_use/tool_result blocks, role "system" inside messages),
// and generation output -> a message body or the streamed event sequence. No I/O.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "server/generation.h"
#include "server/model_registry.h"
#include "server/request_fields.h"

namespace dsv4::server {

// Validates and converts a request body; throws ApiError 400. Unknown fields are ignored;
// thinking defaults to enabled like DeepSeek's endpoint ("adaptive" = enabled).
ChatJob ParseAnthropicMessages(const Json& body, const ModelRegistry& models);

// input_tokens (uncached), cache_creation_input_tokens (0), cache_read_input_tokens,
// output_tokens, service_tier, and `cost` (USD, this request; usage_meter.h prices).
Json AnthropicUsage(const GenerationUsage& usage, const std::string& model,
                    double cache_hit_price_ratio);

// One streamed event: its name (the SSE `event:` line) and data.
using AnthropicEvent = std::pair<std::string, Json>;

// Shapes one request's responses; tracks which content block is open while streaming.
class AnthropicMessageWriter {
 public:
  AnthropicMessageWriter(std::string id, std::string model, std::vector<std::string> stop,
                         double cache_hit_price_ratio = 0.1);

  // message_start; in thinking mode the thinking block opens at once (DeepSeek's stream
  // always starts with one).
  std::vector<AnthropicEvent> Start(int64_t prompt_tokens, bool thinking);
  std::vector<AnthropicEvent> Delta(const tokenizer::ParserDelta& delta);
  // Closes the open block, then message_delta (stop_reason, usage) and message_stop.
  std::vector<AnthropicEvent> Finish(const GenerationOutcome& outcome);

  // Non-streaming: the whole message body.
  Json Message(const tokenizer::ParsedOutput& output, const GenerationOutcome& outcome,
               bool thinking) const;

 private:
  enum class Block { kNone, kThinking, kText };
  void Open(Block block, Json content_block, std::vector<AnthropicEvent>* out);
  void Close(std::vector<AnthropicEvent>* out);
  std::pair<std::string, Json> StopReason(const GenerationOutcome& outcome) const;

  std::string id_, model_;
  std::vector<std::string> stop_;
  double cache_hit_price_ratio_;
  Block open_ = Block::kNone;
  int index_ = -1;
  bool pinged_ = false;
  bool answered_ = false;  // a text or tool_use block was sent
};

}  // namespace dsv4::server
