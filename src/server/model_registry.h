// The model names the server answers to. All of them are served by the one loaded model;
// a name may pin thinking on or off (DeepSeek's legacy aliases). Thread-safe after
// construction (read only).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace dsv4::server {

struct ServedModel {
  std::string id;                 // the name the client asked for, echoed in responses
  std::optional<bool> thinking;   // forced thinking mode; nullopt = the request decides
};

class ModelRegistry {
 public:
  // deepseek-v4-flash, deepseek-v4-pro, deepseek-chat (thinking off), deepseek-reasoner
  // (thinking on), plus `extra_names` (--served-model-name).
  explicit ModelRegistry(std::vector<std::string> extra_names = {});

  // Throws ApiError 400 with DeepSeek's text for an unknown name. With `anthropic`,
  // claude-* names map like DeepSeek's Anthropic endpoint does (opus -> pro, others ->
  // flash), so Claude Code works without renaming its model slots.
  ServedModel Resolve(const std::string& name, bool anthropic = false) const;

  // Each model with its maximum context (prompt + output tokens) as `context_length`
  // (OpenRouter's name) and `max_model_len` (vLLM's).
  nlohmann::ordered_json OpenAIList(int64_t context_length) const;  // {"object":"list",...}
  nlohmann::ordered_json AnthropicList(int64_t context_length) const;  // {"data":[...],...}

 private:
  std::vector<ServedModel> models_;
};

}  // namespace dsv4::server
