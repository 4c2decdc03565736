// OpenAI surface: request validation and conversion (ParseOpenAIChat), the model names,
// and the shapes of completion bodies, stream chunks, usage and errors.
#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/openai_chat.h"

namespace dsv4::server {
namespace {

Json Body(Json extra = Json::object()) {
  Json body = {{"model", "deepseek-v4-flash"},
               {"messages", Json::array({{{"role", "user"}, {"content", "hi"}}})}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  return body;
}

int StatusOf(const Json& body, const ModelRegistry& models = ModelRegistry()) {
  try {
    ParseOpenAIChat(body, models);
  } catch (const ApiError& e) {
    return e.status();
  }
  return 200;
}

TEST(OpenAIChatParse, ReadsTheFields) {
  ChatJob job = ParseOpenAIChat(
      Body({{"max_tokens", 7}, {"stop", "END"}, {"stream", true},
            {"stream_options", {{"include_usage", true}}}, {"seed", 3}, {"unknown_field", 1}}),
      ModelRegistry());
  EXPECT_EQ(job.model, "deepseek-v4-flash");
  EXPECT_EQ(job.max_tokens, 7);
  EXPECT_EQ(job.stop, std::vector<std::string>{"END"});
  EXPECT_TRUE(job.stream);
  EXPECT_TRUE(job.include_usage);
  EXPECT_EQ(job.sampling.seed, 3u);
  ASSERT_EQ(job.chat.messages.size(), 1u);
  EXPECT_EQ(job.chat.messages[0].content, "hi");
  EXPECT_TRUE(job.chat.thinking);  // DeepSeek's default
  EXPECT_EQ(ParseOpenAIChat(Body({{"max_completion_tokens", 9}}), ModelRegistry()).max_tokens, 9);
  EXPECT_EQ(ParseOpenAIChat(Body(), ModelRegistry()).max_tokens, -1);
}

TEST(OpenAIChatParse, ModelNamesPinThinking) {
  ModelRegistry models;
  Json on = Body({{"thinking", {{"type", "enabled"}}}});
  on["model"] = "deepseek-chat";
  EXPECT_FALSE(ParseOpenAIChat(on, models).chat.thinking);
  Json off = Body({{"thinking", {{"type", "disabled"}}}});
  off["model"] = "deepseek-reasoner";
  EXPECT_TRUE(ParseOpenAIChat(off, models).chat.thinking);
  off["model"] = "deepseek-v4-pro";
  EXPECT_FALSE(ParseOpenAIChat(off, models).chat.thinking);
}

TEST(OpenAIChatParse, ToolChoiceNoneHidesTheTools) {
  Json tools = Json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}});
  EXPECT_EQ(ParseOpenAIChat(Body({{"tools", tools}}), ModelRegistry()).chat.tools, tools);
  EXPECT_TRUE(
      ParseOpenAIChat(Body({{"tools", tools}, {"tool_choice", "none"}}), ModelRegistry()).chat.tools.is_null());
  EXPECT_EQ(ParseOpenAIChat(Body({{"tools", tools}, {"tool_choice", "required"}}), ModelRegistry()).chat.tools,
            tools);
}

TEST(OpenAIChatParse, SamplingIsIgnoredInThinkingMode) {
  ChatJob thinking = ParseOpenAIChat(Body({{"temperature", 0.2}, {"top_p", 0.5}}), ModelRegistry());
  EXPECT_EQ(thinking.sampling.temperature, 1.0);
  EXPECT_EQ(thinking.sampling.top_p, 1.0);
  ChatJob chat = ParseOpenAIChat(
      Body({{"temperature", 0.2}, {"top_p", 0.5}, {"thinking", {{"type", "disabled"}}}}), ModelRegistry());
  EXPECT_EQ(chat.sampling.temperature, 0.2);
  EXPECT_EQ(chat.sampling.top_p, 0.5);
}

TEST(OpenAIChatParse, RejectsBadRequestsWith400) {
  Json no_model = Body();
  no_model.erase("model");
  EXPECT_EQ(StatusOf(no_model), 400);
  Json unknown = Body();
  unknown["model"] = "gpt-4o";
  EXPECT_EQ(StatusOf(unknown), 400);
  EXPECT_EQ(StatusOf(Body({{"max_tokens", "ten"}})), 400);
  EXPECT_EQ(StatusOf(Body({{"max_tokens", 0}})), 400);
  EXPECT_EQ(StatusOf(Body({{"temperature", 3}})), 400);
  EXPECT_EQ(StatusOf(Body({{"stream", "yes"}})), 400);
  EXPECT_EQ(StatusOf(Body({{"stop", Json::array({1, 2})}})), 400);
  EXPECT_EQ(StatusOf(Body({{"messages", "hi"}})), 400);
  EXPECT_EQ(StatusOf(Body({{"messages", Json::array()}})), 400);
  EXPECT_EQ(StatusOf(Body({{"messages", Json::array({{{"role", "user"}, {"content", 5}}})}})), 400);
  EXPECT_EQ(StatusOf(Body({{"response_format", {{"type", "json_schema"}}}})), 400);
  EXPECT_EQ(StatusOf(Body({{"reasoning_effort", "bogus"}})), 400);
  EXPECT_EQ(StatusOf(Body({{"messages", Json::array({{{"role", "user"}, {"content", "x"},
                                                       {"prefix", "yes"}}})}})),
            400);
  EXPECT_EQ(StatusOf(Body({{"logit_bias", {{"x", 1}}}})), 400);
  EXPECT_EQ(StatusOf(Body({{"logit_bias", {{"5", 101}}}})), 400);
  EXPECT_EQ(ParseOpenAIChat(Body({{"logit_bias", {{"5", -100}}}}), ModelRegistry()).sampling.logit_bias.at(5), -100);
  EXPECT_EQ(StatusOf(Body({{"reasoning_effort", "xhigh"}})), 200);
}

TEST(OpenAIChatParse, UnknownModelMessageIsDeepSeeks) {
  Json body = Body();
  body["model"] = "gpt-4o";
  try {
    ParseOpenAIChat(body, ModelRegistry({"my-model"}));
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(std::string(e.what()),
              "The supported API model names are deepseek-v4-flash, deepseek-v4-pro, "
              "deepseek-chat, deepseek-reasoner, my-model, but you passed gpt-4o.");
  }
  body["model"] = "my-model";
  EXPECT_EQ(ParseOpenAIChat(body, ModelRegistry({"my-model"})).model, "my-model");
}

TEST(OpenAIChatParse, MalformedBodies) {
  EXPECT_THROW(ParseBody("{\"model\": "), ApiError);
  EXPECT_THROW(ParseBody("[1, 2]"), ApiError);
  EXPECT_EQ(ParseBody("{\"a\": 1}")["a"], 1);
}

TEST(ModelRegistryTest, ListsAndClaudeNames) {
  ModelRegistry models({"extra"});
  Json list = models.OpenAIList(65536);
  EXPECT_EQ(list["object"], "list");
  ASSERT_EQ(list["data"].size(), 5u);
  EXPECT_EQ(list["data"][0], Json({{"id", "deepseek-v4-flash"}, {"object", "model"},
                                   {"owned_by", "deepseek"}, {"context_length", 65536},
                                   {"max_model_len", 65536}}));
  EXPECT_EQ(models.AnthropicList(65536)["data"][0]["type"], "model");
  EXPECT_EQ(models.AnthropicList(65536)["data"][0]["context_length"], 65536);
  EXPECT_EQ(models.Resolve("claude-opus-4", true).id, "claude-opus-4");
  EXPECT_THROW(models.Resolve("claude-opus-4"), ApiError);
}

GenerationOutcome Outcome(FinishReason finish, bool tool_calls = false) {
  GenerationOutcome o;
  o.finish = finish;
  o.tool_calls = tool_calls;
  o.usage = {.prompt_tokens = 300, .cached_tokens = 256, .completion_tokens = 20,
             .reasoning_tokens = 11};
  return o;
}

TEST(OpenAIChatWriterTest, UsageHasDeepSeekAndOpenAIFields) {
  Json u = OpenAIUsage(Outcome(FinishReason::kStop).usage, true, "deepseek-v4-flash", 0.1);
  EXPECT_EQ(u["prompt_tokens"], 300);
  EXPECT_EQ(u["completion_tokens"], 20);
  EXPECT_EQ(u["total_tokens"], 320);
  EXPECT_EQ(u["prompt_cache_hit_tokens"], 256);
  EXPECT_EQ(u["prompt_cache_miss_tokens"], 44);
  EXPECT_EQ(u["prompt_tokens_details"]["cached_tokens"], 256);
  EXPECT_EQ(u["completion_tokens_details"]["reasoning_tokens"], 11);
  // V4-Flash: 44 missed input tokens at $0.14/M, 256 cached at a tenth of that, 20 output
  // tokens at $0.28/M.
  EXPECT_NEAR(u["cost"].get<double>(), (44 * 0.14 + 256 * 0.014 + 20 * 0.28) / 1e6, 1e-15);
  EXPECT_NEAR(OpenAIUsage(Outcome(FinishReason::kStop).usage, true, "deepseek-v4-pro", 0.1)["cost"]
                  .get<double>(),
              (44 * 1.70 + 256 * 0.170 + 20 * 3.40) / 1e6, 1e-15);
  EXPECT_FALSE(OpenAIUsage(Outcome(FinishReason::kStop).usage, false, "deepseek-v4-flash", 0.1)
                   .contains("completion_tokens_details"));
}

TEST(OpenAIChatWriterTest, StreamChunks) {
  OpenAIChatWriter w("id-1", "deepseek-v4-flash", 1700000000, true, true);
  Json first = w.FirstChunk();
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"],
            Json({{"role", "assistant"}, {"content", nullptr}, {"reasoning_content", ""}}));
  EXPECT_TRUE(first["usage"].is_null());

  tokenizer::ParserDelta d;
  d.reasoning = "think";
  d.content = "answer";
  d.tool_calls.push_back({.index = 0, .id = "call_00_x", .name = "f", .arguments = "{\"a\":1}"});
  std::vector<Json> chunks = w.DeltaChunks(d);
  ASSERT_EQ(chunks.size(), 10u);  // reasoning, content, the call's header, 7 argument pieces
  EXPECT_EQ(chunks[0]["choices"][0]["delta"],
            Json({{"content", nullptr}, {"reasoning_content", "think"}}));
  EXPECT_EQ(chunks[1]["choices"][0]["delta"],
            Json({{"content", "answer"}, {"reasoning_content", nullptr}}));
  EXPECT_EQ(chunks[2]["choices"][0]["delta"]["tool_calls"][0],
            Json({{"index", 0}, {"id", "call_00_x"}, {"type", "function"},
                  {"function", {{"name", "f"}, {"arguments", ""}}}}));
  std::string arguments;
  for (size_t i = 3; i < chunks.size(); ++i) {
    const Json& call = chunks[i]["choices"][0]["delta"]["tool_calls"][0];
    EXPECT_EQ(call["index"], 0);
    EXPECT_FALSE(call.contains("id"));
    arguments += call["function"]["arguments"].get<std::string>();
  }
  EXPECT_EQ(arguments, "{\"a\":1}");
  EXPECT_TRUE(w.DeltaChunks({}).empty());

  Json last = w.FinalChunk(Outcome(FinishReason::kStop, true));
  EXPECT_EQ(last["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(last["usage"]["prompt_cache_hit_tokens"], 256);
  OpenAIChatWriter no_usage("id-2", "m", 0, false, false);
  EXPECT_FALSE(no_usage.FinalChunk(Outcome(FinishReason::kLength)).contains("usage"));
  EXPECT_EQ(no_usage.FinalChunk(Outcome(FinishReason::kLength))["choices"][0]["finish_reason"],
            "length");
}

TEST(OpenAIChatWriterTest, CompletionBody) {
  tokenizer::ParsedOutput out;
  out.reasoning = "r";
  out.tool_calls.push_back({.index = 0, .id = "call_00_y", .name = "g", .arguments = "{}"});
  Json body = OpenAIChatWriter("id-3", "deepseek-reasoner", 5, true, false)
                  .Completion(out, Outcome(FinishReason::kStop, true));
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["model"], "deepseek-reasoner");
  const Json& choice = body["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls");
  EXPECT_EQ(choice["message"]["content"], "");  // DeepSeek: "" (not null) with tool calls
  EXPECT_EQ(choice["message"]["reasoning_content"], "r");
  EXPECT_EQ(choice["message"]["tool_calls"][0]["function"]["name"], "g");
  EXPECT_FALSE(choice["message"]["tool_calls"][0].contains("index"));
  EXPECT_EQ(body["usage"]["total_tokens"], 320);

  Json plain = OpenAIChatWriter("id-4", "deepseek-chat", 5, false, false)
                   .Completion(tokenizer::ParsedOutput{}, Outcome(FinishReason::kLength));
  EXPECT_FALSE(plain["choices"][0]["message"].contains("reasoning_content"));
  EXPECT_FALSE(plain["choices"][0]["message"].contains("tool_calls"));
  EXPECT_EQ(plain["choices"][0]["finish_reason"], "length");
}

TEST(OpenAIChatWriterTest, Logprobs) {
  EXPECT_EQ(StatusOf(Body({{"top_logprobs", 2}})), 400);  // needs logprobs: true
  ChatJob job = ParseOpenAIChat(Body({{"logprobs", true}, {"top_logprobs", 2}}), ModelRegistry());
  EXPECT_TRUE(job.logprobs);
  EXPECT_EQ(job.top_logprobs, 2);

  TokenLogprobInfo think{.token = "a", .bytes = "a", .logprob = -0.5f, .top = {}, .reasoning = true};
  TokenLogprobInfo word{.token = "\xEF\xBF\xBD", .bytes = "\xC3", .logprob = -1.0f,
                        .top = {{"b", "b", -0.25f}}, .reasoning = false};
  Json lp = OpenAILogprobs({think, word});
  EXPECT_EQ(lp["reasoning_content"][0]["token"], "a");
  EXPECT_EQ(lp["content"][0], Json({{"token", "\xEF\xBF\xBD"}, {"logprob", -1.0},
                                    {"bytes", {0xC3}},
                                    {"top_logprobs", {{{"token", "b"}, {"logprob", -0.25},
                                                       {"bytes", {98}}}}}}));
  // Logprobs of a step without text wait for the next chunk.
  OpenAIChatWriter w("id", "m", 0, false, false);
  EXPECT_TRUE(w.DeltaChunks({}, {word}).empty());
  std::vector<Json> chunks = w.DeltaChunks({.content = "x"}, {word});
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0]["choices"][0]["logprobs"]["content"].size(), 2u);
  EXPECT_TRUE(w.DeltaChunks({.content = "y"})[0]["choices"][0]["logprobs"].is_null());
}

TEST(ApiErrorTest, Envelopes) {
  EXPECT_EQ(OpenAIErrorBody(401, "bad key"),
            Json({{"error", {{"message", "bad key"}, {"type", "authentication_error"},
                             {"param", nullptr}, {"code", "invalid_request_error"}}}}));
  EXPECT_EQ(OpenAIErrorBody(400, "x")["error"]["type"], "invalid_request_error");
  EXPECT_EQ(AnthropicErrorBody(413, "big"),
            Json({{"type", "error"}, {"error", {{"type", "request_too_large"}, {"message", "big"}}}}));
  EXPECT_EQ(AnthropicErrorBody(404, "x")["error"]["type"], "not_found_error");
}

}  // namespace
}  // namespace dsv4::server
