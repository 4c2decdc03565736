#include "server/openai_chat.h"

#include <cstdlib>

#include "server/api_error.h"
#include "server/argument_fragments.h"
#include "server/usage_meter.h"
#include "tokenizer/openai_request.h"

namespace dsv4::server {

namespace {

// tool_choice: "none" hides the tools (the history's calls still render); "required" and
// a named function are enforced by constrained decoding (ChatJob::Shape::kToolCall).
void ApplyOpenAIToolChoice(const Json& body, ChatJob* job) {
  job->parallel_tool_calls = OptBool(body, "parallel_tool_calls").value_or(true);
  if (!body.contains("tool_choice") || body["tool_choice"].is_null()) return;
  const Json& choice = body["tool_choice"];
  const bool has_tools = job->chat.tools.is_array() && !job->chat.tools.empty();
  if (choice.is_string()) {
    const std::string mode = choice.get<std::string>();
    if (mode == "none") {
      job->chat.tools = nullptr;
    } else if (mode == "required") {
      if (!has_tools) throw BadRequest("Invalid 'tool_choice': 'required' needs 'tools'");
      job->shape = ChatJob::Shape::kToolCall;
    } else if (mode != "auto") {
      throw BadRequest("Failed to deserialize the JSON body into the target type: tool_choice: "
                       "unknown variant `" + mode + "`, expected one of `none`, `auto`, `required`");
    }
    return;
  }
  const Json* name = nullptr;
  if (choice.is_object() && choice.value("type", "") == "function" && choice.contains("function") &&
      choice["function"].is_object() && choice["function"].contains("name") &&
      choice["function"]["name"].is_string()) {
    name = &choice["function"]["name"];
  }
  if (!name) {
    throw BadRequest("Invalid 'tool_choice': expected \"none\", \"auto\", \"required\" or "
                     "{\"type\": \"function\", \"function\": {\"name\": ...}}");
  }
  bool found = false;
  if (has_tools) {
    for (const auto& t : job->chat.tools) {
      found = found || (t.contains("function") && t["function"].value("name", "") == *name);
    }
  }
  if (!found) {
    throw BadRequest("Invalid 'tool_choice': function '" + name->get<std::string>() +
                     "' is not in 'tools'");
  }
  job->shape = ChatJob::Shape::kToolCall;
  job->forced_tools = {name->get<std::string>()};
  job->parallel_tool_calls = false;
}

// DeepSeek's replay rule (api.md §2.6): in thinking mode with tools, every earlier
// assistant turn that called tools must bring its reasoning_content back (the prompt
// renders it); DeepSeek answers 400 otherwise.
void CheckReasoningReplay(const Json& body, const tokenizer::ChatRequest& chat) {
  const bool has_tools = body.contains("tools") && body["tools"].is_array() && !body["tools"].empty();
  if (!chat.thinking || !has_tools) return;
  for (const tokenizer::ChatMessage& m : chat.messages) {
    if (m.role == "assistant" && !m.tool_calls.empty() && !m.reasoning_content && !m.prefix) {
      throw BadRequest("The `reasoning_content` in the thinking mode must be passed back to the API.");
    }
  }
}

}  // namespace

void ParseLogitBias(const Json& body, SamplingParams* sampling) {
  if (body.contains("logit_bias") && !body["logit_bias"].is_null()) {
    if (!body["logit_bias"].is_object()) throw BadRequest("Invalid 'logit_bias': expected an object");
    for (const auto& [id, bias] : body["logit_bias"].items()) {
      char* end = nullptr;
      const long token = std::strtol(id.c_str(), &end, 10);
      if (id.empty() || *end != '\0' || token < 0 || !bias.is_number() ||
          bias.get<double>() < -100 || bias.get<double>() > 100) {
        throw BadRequest("Invalid 'logit_bias': token ids map to numbers in [-100, 100]");
      }
      sampling->logit_bias[int32_t(token)] = bias.get<float>();
    }
  }
}

ChatJob ParseOpenAIChat(const Json& body, const ModelRegistry& models,
                        bool strict_reasoning_replay) {
  ChatJob job;
  std::optional<std::string> model = OptString(body, "model");
  if (!model) throw BadRequest("Failed to deserialize the JSON body into the target type: missing field `model`");
  const ServedModel served = models.Resolve(*model);
  job.model = served.id;
  if (!body.contains("messages") || !body["messages"].is_array()) {
    throw BadRequest("Failed to deserialize the JSON body into the target type: messages: expected an array");
  }
  if (body["messages"].empty()) throw BadRequest("Invalid 'messages': empty array");

  job.stream = OptBool(body, "stream").value_or(false);
  if (body.contains("stream_options") && body["stream_options"].is_object()) {
    job.include_usage = OptBool(body["stream_options"], "include_usage").value_or(false);
  }
  auto max_tokens = OptInt(body, "max_tokens", 1, int64_t(1) << 40);
  auto max_completion = OptInt(body, "max_completion_tokens", 1, int64_t(1) << 40);
  job.max_tokens = max_tokens ? *max_tokens : max_completion.value_or(-1);
  job.stop = StringOrList(body, "stop", 16);
  const auto temperature = OptNumber(body, "temperature", 0.0, 2.0);
  const auto top_p = OptNumber(body, "top_p", 0.0, 1.0);
  OptNumber(body, "frequency_penalty", -2.0, 2.0);  // validated, deprecated by DeepSeek
  OptNumber(body, "presence_penalty", -2.0, 2.0);
  if (auto seed = OptInt(body, "seed", INT64_MIN, INT64_MAX)) job.sampling.seed = uint64_t(*seed);
  ParseLogitBias(body, &job.sampling);
  job.logprobs = OptBool(body, "logprobs").value_or(false);
  job.top_logprobs = OptInt(body, "top_logprobs", 0, 20).value_or(0);
  if (job.top_logprobs > 0 && !job.logprobs) {
    throw BadRequest("Invalid 'top_logprobs': requires 'logprobs' to be true");
  }
  if (body.contains("response_format") && !body["response_format"].is_null()) {
    const Json& rf = body["response_format"];
    const std::string type = rf.is_object() && rf.contains("type") && rf["type"].is_string()
                                 ? rf["type"].get<std::string>() : "";
    if (type == "json_schema") throw BadRequest("This response_format type is unavailable now");
    if (type != "text" && type != "json_object") {
      throw BadRequest("Failed to deserialize the JSON body into the target type: response_format: "
                       "unknown variant, expected `text` or `json_object`");
    }
    if (type == "json_object") job.shape = ChatJob::Shape::kJsonObject;
  }
  if (auto effort = OptString(body, "reasoning_effort")) {
    static const std::vector<std::string> kEfforts = {"none",  "minimal", "low", "medium",
                                                      "high",  "xhigh",   "max", "ultra"};
    if (std::find(kEfforts.begin(), kEfforts.end(), *effort) == kEfforts.end()) {
      throw BadRequest("Failed to deserialize the JSON body into the target type: "
                       "reasoning_effort: unknown variant `" + *effort +
                       "`, expected one of `none`, `minimal`, `low`, `medium`, `high`, `xhigh`, `max`");
    }
  }

  Result<tokenizer::ChatRequest> chat = Result<tokenizer::ChatRequest>::Fail("");
  try {
    chat = tokenizer::ChatRequestFromOpenAI(body);
  } catch (const nlohmann::json::exception& e) {
    throw BadRequest(std::string("Failed to deserialize the JSON body into the target type: ") +
                     e.what());
  }
  if (!chat.ok()) throw BadRequest(chat.error());
  job.chat = std::move(chat.value());
  ApplyOpenAIToolChoice(body, &job);
  if (served.thinking) job.chat.thinking = *served.thinking;
  if (strict_reasoning_replay) CheckReasoningReplay(body, job.chat);
  // The preview encoder knows high/max; DeepSeek maps the rest onto them (api.md §2.3).
  std::string& effort = job.chat.reasoning_effort;
  if (effort == "xhigh" || effort == "ultra") effort = "max";
  if (effort == "minimal" || effort == "low" || effort == "medium") effort = "high";
  // DeepSeek ignores sampling knobs in thinking mode (api.md §2.6).
  if (!job.chat.thinking) {
    if (temperature) job.sampling.temperature = *temperature;
    if (top_p) job.sampling.top_p = *top_p > 0 ? *top_p : 1e-9;
  }
  return job;
}

Json OpenAIUsage(const GenerationUsage& u, bool thinking, const std::string& model,
                 double cache_hit_price_ratio) {
  Json usage = {{"prompt_tokens", u.prompt_tokens},
                {"completion_tokens", u.completion_tokens},
                {"total_tokens", u.prompt_tokens + u.completion_tokens},
                {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}},
                {"prompt_cache_hit_tokens", u.cached_tokens},
                {"prompt_cache_miss_tokens", u.prompt_tokens - u.cached_tokens}};
  if (thinking) usage["completion_tokens_details"] = {{"reasoning_tokens", u.reasoning_tokens}};
  usage["cost"] = CostUsd(u, PricesFor(model, cache_hit_price_ratio));
  return usage;
}

std::string OpenAIFinishReason(const GenerationOutcome& outcome) {
  if (outcome.finish == FinishReason::kLength) return "length";
  if (outcome.tool_calls) return "tool_calls";
  return "stop";
}

namespace {

Json ToolCallJson(const tokenizer::ParsedToolCall& call, bool with_index) {
  Json j = Json::object();
  if (with_index) j["index"] = call.index;
  j["id"] = call.id;
  j["type"] = "function";
  j["function"] = {{"name", call.name}, {"arguments", call.arguments}};
  return j;
}

Json BytesArray(const std::string& bytes) {
  Json out = Json::array();
  for (unsigned char c : bytes) out.push_back(int(c));
  return out;
}

}  // namespace

Json OpenAILogprobs(const std::vector<TokenLogprobInfo>& logprobs) {
  Json content = Json::array(), reasoning = Json::array();
  for (const TokenLogprobInfo& t : logprobs) {
    Json top = Json::array();
    for (const TopLogprob& alt : t.top) {
      top.push_back({{"token", alt.token}, {"logprob", alt.logprob}, {"bytes", BytesArray(alt.bytes)}});
    }
    (t.reasoning ? reasoning : content)
        .push_back({{"token", t.token}, {"logprob", t.logprob}, {"bytes", BytesArray(t.bytes)},
                    {"top_logprobs", top}});
  }
  Json out = {{"content", content}};
  if (!reasoning.empty()) out["reasoning_content"] = reasoning;
  return out;
}

OpenAIChatWriter::OpenAIChatWriter(std::string id, std::string model, int64_t created,
                                   bool thinking, bool include_usage,
                                   double cache_hit_price_ratio)
    : id_(std::move(id)),
      model_(std::move(model)),
      created_(created),
      thinking_(thinking),
      include_usage_(include_usage),
      cache_hit_price_ratio_(cache_hit_price_ratio) {}

Json OpenAIChatWriter::Chunk(Json delta, Json finish_reason) const {
  Json chunk = {{"id", id_},
                {"object", "chat.completion.chunk"},
                {"created", created_},
                {"model", model_},
                {"system_fingerprint", "dsv4"},
                {"choices",
                 Json::array({{{"index", 0},
                               {"delta", std::move(delta)},
                               {"logprobs", nullptr},
                               {"finish_reason", std::move(finish_reason)}}})}};
  if (include_usage_) chunk["usage"] = nullptr;
  return chunk;
}

Json OpenAIChatWriter::FirstChunk() const {
  Json delta = {{"role", "assistant"}, {"content", thinking_ ? Json(nullptr) : Json("")}};
  if (thinking_) delta["reasoning_content"] = "";
  return Chunk(std::move(delta), nullptr);
}

std::vector<Json> OpenAIChatWriter::DeltaChunks(const tokenizer::ParserDelta& d,
                                                const std::vector<TokenLogprobInfo>& logprobs) {
  std::vector<Json> out;
  pending_logprobs_.insert(pending_logprobs_.end(), logprobs.begin(), logprobs.end());
  if (!d.reasoning.empty()) {
    out.push_back(Chunk({{"content", nullptr}, {"reasoning_content", d.reasoning}}, nullptr));
  }
  if (!d.content.empty()) {
    Json delta = {{"content", d.content}};
    if (thinking_) delta["reasoning_content"] = nullptr;
    out.push_back(Chunk(std::move(delta), nullptr));
  }
  // Each call: its header (id, name, empty arguments), then the arguments in fragments,
  // as DeepSeek streams them (api.md §2.5).
  for (const tokenizer::ParsedToolCall& call : d.tool_calls) {
    tokenizer::ParsedToolCall head = call;
    head.arguments.clear();
    out.push_back(Chunk({{"tool_calls", Json::array({ToolCallJson(head, true)})}}, nullptr));
    for (const std::string& piece : ArgumentFragments(call.arguments)) {
      out.push_back(Chunk({{"tool_calls", Json::array({{{"index", call.index},
                                                        {"function", {{"arguments", piece}}}}})}},
                          nullptr));
    }
  }
  if (!out.empty() && !pending_logprobs_.empty()) {
    out.front()["choices"][0]["logprobs"] = OpenAILogprobs(pending_logprobs_);
    pending_logprobs_.clear();
  }
  return out;
}

Json OpenAIChatWriter::FinalChunk(const GenerationOutcome& outcome) const {
  // DeepSeek's shape: usage rides on the chunk with the finish_reason (api.md §2.5).
  Json chunk = Chunk({{"content", ""}}, OpenAIFinishReason(outcome));
  if (include_usage_) chunk["usage"] = OpenAIUsage(outcome.usage, thinking_, model_, cache_hit_price_ratio_);
  return chunk;
}

Json OpenAIChatWriter::Completion(const tokenizer::ParsedOutput& output,
                                  const GenerationOutcome& outcome,
                                  const std::vector<TokenLogprobInfo>* logprobs) const {
  Json message = {{"role", "assistant"}, {"content", output.content}};
  if (thinking_) message["reasoning_content"] = output.reasoning;
  if (!output.tool_calls.empty()) {
    Json calls = Json::array();
    for (const auto& call : output.tool_calls) calls.push_back(ToolCallJson(call, false));
    message["tool_calls"] = std::move(calls);
  }
  return {{"id", id_},
          {"object", "chat.completion"},
          {"created", created_},
          {"model", model_},
          {"choices",
           Json::array({{{"index", 0},
                         {"message", std::move(message)},
                         {"logprobs", logprobs ? OpenAILogprobs(*logprobs) : Json(nullptr)},
                         {"finish_reason", OpenAIFinishReason(outcome)}}})},
          {"usage", OpenAIUsage(outcome.usage, thinking_, model_, cache_hit_price_ratio_)},
          {"system_fingerprint", "dsv4"}};
}

}  // namespace dsv4::server
