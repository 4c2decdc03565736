// The native chat request the V4 encoder consumes: OpenAI-shaped messages with DeepSeek's
// extensions (reasoning_content, prefix). API adapters (OpenAI, Anthropic) build this;
// only these plain types cross into the encoder.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace dsv4::tokenizer {

struct ToolCall {
  std::string id;  // only used to order tool results (never rendered)
  std::string name;
  std::string arguments;  // JSON text as the client sent it
};

struct ChatMessage {
  // system, user, assistant, tool, developer, latest_reminder.
  std::string role;
  // Text content, already flattened (content-part arrays joined; null -> "").
  std::string content;
  std::optional<std::string> reasoning_content;  // assistant
  std::vector<ToolCall> tool_calls;              // assistant
  std::string tool_call_id;                      // tool
  bool prefix = false;  // assistant, last message: continue it (no EOS; DeepSeek beta)
  std::string task;     // internal quick-instruction task (chat-format §2.9); usually empty
  nlohmann::ordered_json tools;            // system/developer: OpenAI tools array, or null
  nlohmann::ordered_json response_format;  // system/developer: rendered object, or null
};

struct ChatRequest {
  std::vector<ChatMessage> messages;
  nlohmann::ordered_json tools;            // request-level OpenAI `tools`, or null
  nlohmann::ordered_json response_format;  // request-level `response_format`, or null
  bool thinking = true;                    // DeepSeek's default: thinking on
  bool drop_thinking = true;               // forget earlier reasoning (forced off with tools)
  std::string reasoning_effort;            // API value; "" = not given
};

}  // namespace dsv4::tokenizer
