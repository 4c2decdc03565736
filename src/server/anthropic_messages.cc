#include "server/anthropic_messages.h"

#include "server/api_error.h"
#include "server/argument_fragments.h"
#include "server/usage_meter.h"

namespace dsv4::server {
namespace {

tokenizer::ChatMessage Message(std::string role, std::string content) {
  tokenizer::ChatMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

// Text of a string or of the text blocks of an array (other blocks are skipped).
std::string BlocksText(const Json& content, const std::string& where) {
  if (content.is_string()) return content.get<std::string>();
  if (content.is_null()) return "";
  if (!content.is_array()) throw BadRequest(where + ": content must be a string or an array");
  std::string out;
  for (const Json& block : content) {
    if (block.is_object() && block.value("type", "") == "text" && block.contains("text") &&
        block["text"].is_string()) {
      if (!out.empty()) out += "\n\n";
      out += block["text"].get<std::string>();
    }
  }
  return out;
}

void AddUserBlocks(const Json& content, const std::string& where, tokenizer::ChatRequest* req) {
  if (!content.is_array()) {
    req->messages.push_back(Message("user", BlocksText(content, where)));
    return;
  }
  // Tool results become tool messages ahead of the turn's own text (api.md §3.3).
  std::string text;
  for (const Json& block : content) {
    if (!block.is_object()) throw BadRequest(where + ": content blocks must be objects");
    const std::string type = block.value("type", "");
    if (type == "text") {
      if (!block.contains("text") || !block["text"].is_string()) {
        throw BadRequest(where + ": a text block needs a string 'text'");
      }
      if (!text.empty()) text += "\n\n";
      text += block["text"].get<std::string>();
    } else if (type == "tool_result") {
      tokenizer::ChatMessage m;
      m.role = "tool";
      m.tool_call_id = block.value("tool_use_id", "");
      m.content = BlocksText(block.contains("content") ? block["content"] : Json(""), where);
      req->messages.push_back(std::move(m));
    } else if (type == "image" || type == "document") {
      throw BadRequest(where + ": " + type + " content is not supported by DeepSeek-V4 text models");
    }
  }
  if (!text.empty()) req->messages.push_back(Message("user", text));
}

void AddAssistantBlocks(const Json& content, const std::string& where,
                        tokenizer::ChatRequest* req) {
  tokenizer::ChatMessage m;
  m.role = "assistant";
  if (!content.is_array()) {
    m.content = BlocksText(content, where);
    req->messages.push_back(std::move(m));
    return;
  }
  for (const Json& block : content) {
    if (!block.is_object()) throw BadRequest(where + ": content blocks must be objects");
    const std::string type = block.value("type", "");
    if (type == "text" && block.contains("text") && block["text"].is_string()) {
      m.content += block["text"].get<std::string>();
    } else if (type == "thinking" && block.contains("thinking") && block["thinking"].is_string()) {
      m.reasoning_content = m.reasoning_content.value_or("") + block["thinking"].get<std::string>();
    } else if (type == "tool_use") {
      const Json input = block.contains("input") ? block["input"] : Json::object();
      m.tool_calls.push_back({block.value("id", ""), block.value("name", ""), input.dump()});
    }
  }
  req->messages.push_back(std::move(m));
}

Json ToolsToOpenAI(const Json& tools) {
  Json out = Json::array();
  for (const Json& t : tools) {
    if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) {
      throw BadRequest("tools: each tool needs a string 'name'");
    }
    // Server tools (web search, ...) have a type and no schema: we cannot run them.
    const std::string type = t.value("type", "custom");
    if (type != "custom" && !t.contains("input_schema")) continue;
    Json f = {{"name", t["name"]}};
    if (t.contains("description") && t["description"].is_string()) f["description"] = t["description"];
    f["parameters"] = t.contains("input_schema") ? t["input_schema"] : Json::object();
    out.push_back({{"type", "function"}, {"function", f}});
  }
  return out;
}

// tool_choice: none hides the tools; any / tool are enforced by constrained decoding
// (ChatJob::Shape::kToolCall); disable_parallel_tool_use allows one call.
void ApplyAnthropicToolChoice(const Json& body, ChatJob* job) {
  if (!body.contains("tool_choice") || body["tool_choice"].is_null()) return;
  const Json& choice = body["tool_choice"];
  const std::string type = choice.is_object() ? choice.value("type", "") : "";
  if (type != "auto" && type != "any" && type != "tool" && type != "none") {
    throw BadRequest("tool_choice: expected an object with type auto, any, tool or none");
  }
  if (choice.contains("disable_parallel_tool_use") && choice["disable_parallel_tool_use"].is_boolean()) {
    job->parallel_tool_calls = !choice["disable_parallel_tool_use"].get<bool>();
  }
  tokenizer::ChatRequest& req = job->chat;
  if (type == "none") {
    req.tools = nullptr;
    return;
  }
  if (type == "auto") return;
  if (!req.tools.is_array()) throw BadRequest("tool_choice: type '" + type + "' needs tools");
  job->shape = ChatJob::Shape::kToolCall;
  if (type == "tool") {
    if (!choice.contains("name") || !choice["name"].is_string()) {
      throw BadRequest("tool_choice.name: field required");
    }
    const std::string name = choice["name"].get<std::string>();
    bool found = false;
    for (const Json& t : req.tools) found = found || t["function"].value("name", "") == name;
    if (!found) throw BadRequest("tool_choice: tool '" + name + "' is not in tools");
    job->forced_tools = {name};
    job->parallel_tool_calls = false;
  }
}

}  // namespace

ChatJob ParseAnthropicMessages(const Json& body, const ModelRegistry& models) {
  ChatJob job;
  std::optional<std::string> model = OptString(body, "model");
  if (!model) throw BadRequest("model: field required");
  const ServedModel served = models.Resolve(*model, true);
  job.model = served.id;
  job.max_tokens = OptInt(body, "max_tokens", 1, int64_t(1) << 40).value_or(-1);
  job.stream = OptBool(body, "stream").value_or(false);
  job.stop = StringOrList(body, "stop_sequences", 1024);
  const auto temperature = OptNumber(body, "temperature", 0.0, 2.0);
  const auto top_p = OptNumber(body, "top_p", 0.0, 1.0);
  OptInt(body, "top_k", 0, INT64_MAX);  // accepted and ignored, like DeepSeek

  tokenizer::ChatRequest& req = job.chat;
  if (body.contains("system") && !body["system"].is_null()) {
    req.messages.push_back(Message("system", BlocksText(body["system"], "system")));
  }
  if (!body.contains("messages") || !body["messages"].is_array()) {
    throw BadRequest("messages: field required (an array)");
  }
  int i = 0;
  for (const Json& jm : body["messages"]) {
    const std::string where = "messages." + std::to_string(i++);
    if (!jm.is_object() || !jm.contains("role") || !jm["role"].is_string()) {
      throw BadRequest(where + ": needs a string 'role'");
    }
    const std::string role = jm["role"].get<std::string>();
    const Json content = jm.contains("content") ? jm["content"] : Json("");
    if (role == "user") {
      AddUserBlocks(content, where, &req);
    } else if (role == "assistant") {
      AddAssistantBlocks(content, where, &req);
    } else if (role == "system") {
      req.messages.push_back(Message("system", BlocksText(content, where)));
    } else {
      throw BadRequest(where + ".role: unknown role '" + role + "'");
    }
  }
  if (req.messages.empty()) throw BadRequest("messages: at least one message is required");
  if (body.contains("tools") && body["tools"].is_array() && !body["tools"].empty()) {
    req.tools = ToolsToOpenAI(body["tools"]);
    if (req.tools.empty()) req.tools = nullptr;
  }
  ApplyAnthropicToolChoice(body, &job);

  req.thinking = true;  // DeepSeek's Anthropic endpoint thinks unless told not to
  if (body.contains("thinking") && body["thinking"].is_object()) {
    req.thinking = body["thinking"].value("type", "enabled") != "disabled";
  }
  if (served.thinking) req.thinking = *served.thinking;
  if (body.contains("output_config") && body["output_config"].is_object()) {
    if (auto effort = OptString(body["output_config"], "effort")) {
      req.reasoning_effort = (*effort == "max" || *effort == "xhigh" || *effort == "ultra")
                                 ? "max" : "high";
    }
  }
  if (!req.thinking) {
    if (temperature) job.sampling.temperature = *temperature;
    if (top_p) job.sampling.top_p = *top_p > 0 ? *top_p : 1e-9;
  }
  return job;
}

Json AnthropicUsage(const GenerationUsage& u, const std::string& model,
                    double cache_hit_price_ratio) {
  return {{"input_tokens", u.prompt_tokens - u.cached_tokens},
          {"cache_creation_input_tokens", 0},
          {"cache_read_input_tokens", u.cached_tokens},
          {"output_tokens", u.completion_tokens},
          {"service_tier", "standard"},
          {"cost", CostUsd(u, PricesFor(model, cache_hit_price_ratio))}};
}

AnthropicMessageWriter::AnthropicMessageWriter(std::string id, std::string model,
                                               std::vector<std::string> stop,
                                               double cache_hit_price_ratio)
    : id_(std::move(id)),
      model_(std::move(model)),
      stop_(std::move(stop)),
      cache_hit_price_ratio_(cache_hit_price_ratio) {}

std::vector<AnthropicEvent> AnthropicMessageWriter::Start(int64_t prompt_tokens,
                                                          bool thinking) {
  GenerationUsage usage;
  usage.prompt_tokens = prompt_tokens;  // cache hits are only known at the end
  Json message = {{"id", id_},          {"type", "message"},       {"role", "assistant"},
                  {"model", model_},    {"content", Json::array()}, {"stop_reason", nullptr},
                  {"stop_sequence", nullptr}, {"usage", AnthropicUsage(usage, model_, cache_hit_price_ratio_)}};
  std::vector<AnthropicEvent> out = {
      {"message_start", {{"type", "message_start"}, {"message", message}}}};
  if (thinking) {
    Open(Block::kThinking, {{"type", "thinking"}, {"thinking", ""}, {"signature", ""}}, &out);
  }
  return out;
}

void AnthropicMessageWriter::Open(Block block, Json content_block,
                                  std::vector<AnthropicEvent>* out) {
  Close(out);
  open_ = block;
  ++index_;
  out->push_back({"content_block_start",
                  {{"type", "content_block_start"}, {"index", index_}, {"content_block", content_block}}});
  if (!pinged_) {
    out->push_back({"ping", {{"type", "ping"}}});
    pinged_ = true;
  }
}

void AnthropicMessageWriter::Close(std::vector<AnthropicEvent>* out) {
  if (open_ == Block::kNone) return;
  if (open_ == Block::kThinking) {
    // The signature is a placeholder (DeepSeek sends the message id); clients echo it back.
    out->push_back({"content_block_delta",
                    {{"type", "content_block_delta"},
                     {"index", index_},
                     {"delta", {{"type", "signature_delta"}, {"signature", id_}}}}});
  }
  out->push_back({"content_block_stop", {{"type", "content_block_stop"}, {"index", index_}}});
  open_ = Block::kNone;
}

std::vector<AnthropicEvent> AnthropicMessageWriter::Delta(const tokenizer::ParserDelta& d) {
  std::vector<AnthropicEvent> out;
  auto delta = [&](Json body) {
    out.push_back({"content_block_delta",
                   {{"type", "content_block_delta"}, {"index", index_}, {"delta", std::move(body)}}});
  };
  if (!d.reasoning.empty()) {
    if (open_ != Block::kThinking) {
      Open(Block::kThinking, {{"type", "thinking"}, {"thinking", ""}, {"signature", ""}}, &out);
    }
    delta({{"type", "thinking_delta"}, {"thinking", d.reasoning}});
  }
  if (!d.content.empty()) {
    if (open_ != Block::kText) Open(Block::kText, {{"type", "text"}, {"text", ""}}, &out);
    answered_ = true;
    delta({{"type", "text_delta"}, {"text", d.content}});
  }
  for (const tokenizer::ParsedToolCall& call : d.tool_calls) {
    Open(Block::kNone,
         {{"type", "tool_use"}, {"id", call.id}, {"name", call.name}, {"input", Json::object()}},
         &out);
    answered_ = true;
    for (const std::string& piece : ArgumentFragments(call.arguments)) {
      delta({{"type", "input_json_delta"}, {"partial_json", piece}});
    }
    out.push_back({"content_block_stop", {{"type", "content_block_stop"}, {"index", index_}}});
  }
  return out;
}

std::pair<std::string, Json> AnthropicMessageWriter::StopReason(
    const GenerationOutcome& outcome) const {
  if (outcome.finish == FinishReason::kLength) return {"max_tokens", nullptr};
  if (outcome.tool_calls) return {"tool_use", nullptr};
  if (outcome.stop_string) {
    // The engine does not say which string matched; with one there is no doubt.
    return {"stop_sequence", stop_.size() == 1 ? Json(stop_[0]) : Json(nullptr)};
  }
  return {"end_turn", nullptr};
}

std::vector<AnthropicEvent> AnthropicMessageWriter::Finish(const GenerationOutcome& outcome) {
  std::vector<AnthropicEvent> out;
  if (!answered_) {
    // Like the non-streamed message: an answer always has a (maybe empty) text block.
    Open(Block::kText, {{"type", "text"}, {"text", ""}}, &out);
  }
  Close(&out);
  auto [reason, sequence] = StopReason(outcome);
  out.push_back({"message_delta",
                 {{"type", "message_delta"},
                  {"delta", {{"stop_reason", reason}, {"stop_sequence", sequence}}},
                  {"usage", AnthropicUsage(outcome.usage, model_, cache_hit_price_ratio_)}}});
  out.push_back({"message_stop", {{"type", "message_stop"}}});
  return out;
}

Json AnthropicMessageWriter::Message(const tokenizer::ParsedOutput& output,
                                     const GenerationOutcome& outcome, bool thinking) const {
  Json content = Json::array();
  if (thinking) {
    content.push_back({{"type", "thinking"}, {"thinking", output.reasoning}, {"signature", id_}});
  }
  if (!output.content.empty() || output.tool_calls.empty()) {
    content.push_back({{"type", "text"}, {"text", output.content}});
  }
  for (const tokenizer::ParsedToolCall& call : output.tool_calls) {
    Json input = Json::parse(call.arguments, nullptr, false);
    if (input.is_discarded() || !input.is_object()) input = Json::object();
    content.push_back({{"type", "tool_use"}, {"id", call.id}, {"name", call.name}, {"input", input}});
  }
  auto [reason, sequence] = StopReason(outcome);
  return {{"id", id_},
          {"type", "message"},
          {"role", "assistant"},
          {"model", model_},
          {"content", content},
          {"stop_reason", reason},
          {"stop_sequence", sequence},
          {"usage", AnthropicUsage(outcome.usage, model_, cache_hit_price_ratio_)}};
}

}  // namespace dsv4::server
