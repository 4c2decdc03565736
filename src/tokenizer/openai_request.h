// OpenAI Chat Completions request body (with DeepSeek's extensions) -> ChatRequest.
// Used by `dsv4 tokenize --chat` and available to the server's OpenAI adapter.
#pragma once

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tokenizer/chat_types.h"

namespace dsv4::tokenizer {

// Reads messages (string or content-part content; null -> ""), tools, response_format,
// thinking ({"type": enabled|disabled|adaptive}, chat_template_kwargs.thinking /
// enable_thinking / drop_thinking), reasoning_effort ("none" -> chat mode).
// Decisions: `developer` messages are treated as `system` (OpenAI's meaning; the V4
// reference's developer role is DeepSeek-internal); image parts are rejected (V4 text
// models cannot see them); unknown fields are ignored.
Result<ChatRequest> ChatRequestFromOpenAI(const nlohmann::ordered_json& body);

}  // namespace dsv4::tokenizer
