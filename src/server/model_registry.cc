#include "server/model_registry.h"

#include "server/api_error.h"

namespace dsv4::server {

ModelRegistry::ModelRegistry(std::vector<std::string> extra_names) {
  models_ = {{"deepseek-v4-flash", std::nullopt},
             {"deepseek-v4-pro", std::nullopt},
             {"deepseek-chat", false},
             {"deepseek-reasoner", true}};
  for (std::string& name : extra_names) {
    bool known = false;
    for (const ServedModel& m : models_) known = known || m.id == name;
    if (!known && !name.empty()) models_.push_back({std::move(name), std::nullopt});
  }
}

ServedModel ModelRegistry::Resolve(const std::string& name, bool anthropic) const {
  for (const ServedModel& m : models_) {
    if (m.id == name) return m;
  }
  if (anthropic && name.rfind("claude-", 0) == 0) {
    // The reply echoes the client's name (Claude Code checks it); thinking is per request.
    return {name, std::nullopt};
  }
  std::string list;
  for (const ServedModel& m : models_) list += (list.empty() ? "" : ", ") + m.id;
  throw BadRequest("The supported API model names are " + list + ", but you passed " + name +
                   ".");
}

nlohmann::ordered_json ModelRegistry::OpenAIList(int64_t context_length) const {
  nlohmann::ordered_json data = nlohmann::ordered_json::array();
  for (const ServedModel& m : models_) {
    data.push_back({{"id", m.id},
                    {"object", "model"},
                    {"owned_by", "deepseek"},
                    {"context_length", context_length},
                    {"max_model_len", context_length}});
  }
  return {{"object", "list"}, {"data", data}};
}

nlohmann::ordered_json ModelRegistry::AnthropicList(int64_t context_length) const {
  nlohmann::ordered_json data = nlohmann::ordered_json::array();
  for (const ServedModel& m : models_) {
    data.push_back({{"type", "model"},
                    {"id", m.id},
                    {"display_name", m.id},
                    {"created_at", "2026-04-24T00:00:00Z"},
                    {"context_length", context_length}});
  }
  return {{"data", data},
          {"has_more", false},
          {"first_id", models_.front().id},
          {"last_id", models_.back().id}};
}

}  // namespace dsv4::server
