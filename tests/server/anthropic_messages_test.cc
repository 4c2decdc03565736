// Anthropic surface: request conversion (system forms, content blocks, tool turns,
// thinking switch) and the streamed event sequence / message body.
#include <gtest/gtest.h>

#include "server/anthropic_messages.h"
#include "server/api_error.h"

namespace dsv4::server {
namespace {

Json Body(Json messages, Json extra = Json::object()) {
  Json body = {{"model", "deepseek-v4-flash"}, {"max_tokens", 16}, {"messages", messages}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  return body;
}

const Json kHi = Json::array({{{"role", "user"}, {"content", "hi"}}});

TEST(AnthropicParse, SystemStringOrBlocksAndThinkingSwitch) {
  ChatJob job = ParseAnthropicMessages(
      Body(kHi, {{"system", Json::array({{{"type", "text"}, {"text", "a"}},
                                         {{"type", "text"}, {"text", "b"},
                                          {"cache_control", {{"type", "ephemeral"}}}}})},
                 {"stop_sequences", {"X"}}, {"metadata", {{"user_id", "u"}}}}),
      ModelRegistry());
  ASSERT_EQ(job.chat.messages.size(), 2u);
  EXPECT_EQ(job.chat.messages[0].role, "system");
  EXPECT_EQ(job.chat.messages[0].content, "a\n\nb");
  EXPECT_EQ(job.max_tokens, 16);
  EXPECT_EQ(job.stop, std::vector<std::string>{"X"});
  EXPECT_TRUE(job.chat.thinking);  // default on, like DeepSeek's endpoint

  EXPECT_EQ(ParseAnthropicMessages(Body(kHi, {{"system", "s"}}), ModelRegistry()).chat.messages[0].content, "s");
  EXPECT_FALSE(
      ParseAnthropicMessages(Body(kHi, {{"thinking", {{"type", "disabled"}}}}), ModelRegistry()).chat.thinking);
  EXPECT_TRUE(
      ParseAnthropicMessages(Body(kHi, {{"thinking", {{"type", "adaptive"}}}}), ModelRegistry()).chat.thinking);
  Json chat = Body(kHi);
  chat["model"] = "deepseek-chat";
  EXPECT_FALSE(ParseAnthropicMessages(chat, ModelRegistry()).chat.thinking);
  Json no_max = Body(kHi);
  no_max.erase("max_tokens");
  EXPECT_EQ(ParseAnthropicMessages(no_max, ModelRegistry()).max_tokens, -1);  // not required (DeepSeek)
}

TEST(AnthropicParse, ToolTurnsBecomeToolCallsAndToolMessages) {
  Json messages = Json::array(
      {{{"role", "user"}, {"content", "weather?"}},
       {{"role", "assistant"},
        {"content", Json::array({{{"type", "thinking"}, {"thinking", "use it"}, {"signature", "s"}},
                                 {{"type", "text"}, {"text", "Checking."}},
                                 {{"type", "tool_use"}, {"id", "call_1"}, {"name", "get"},
                                  {"input", {{"city", "Paris"}}}}})}},
       {{"role", "user"},
        {"content", Json::array({{{"type", "tool_result"}, {"tool_use_id", "call_1"},
                                  {"content", Json::array({{{"type", "text"}, {"text", "sunny"}}})}},
                                 {{"type", "text"}, {"text", "thanks"}}})}},
       {{"role", "system"}, {"content", "be brief"}}});
  Json tools = Json::array({{{"name", "get"}, {"description", "weather"},
                             {"input_schema", {{"type", "object"}}}},
                            {{"type", "web_search_20250305"}, {"name", "web_search"}}});
  ChatJob job = ParseAnthropicMessages(Body(messages, {{"tools", tools}}), ModelRegistry());
  const auto& m = job.chat.messages;
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[1].role, "assistant");
  EXPECT_EQ(m[1].content, "Checking.");
  EXPECT_EQ(m[1].reasoning_content, "use it");
  ASSERT_EQ(m[1].tool_calls.size(), 1u);
  EXPECT_EQ(m[1].tool_calls[0].name, "get");
  EXPECT_EQ(Json::parse(m[1].tool_calls[0].arguments), Json({{"city", "Paris"}}));
  EXPECT_EQ(m[2].role, "tool");  // tool results come before the turn's text
  EXPECT_EQ(m[2].tool_call_id, "call_1");
  EXPECT_EQ(m[2].content, "sunny");
  EXPECT_EQ(m[3].role, "user");
  EXPECT_EQ(m[3].content, "thanks");
  EXPECT_EQ(m[4].role, "system");
  ASSERT_EQ(job.chat.tools.size(), 1u);  // the server tool is dropped
  EXPECT_EQ(job.chat.tools[0]["function"]["parameters"], Json({{"type", "object"}}));
}

TEST(AnthropicParse, RejectsBadRequests) {
  auto status = [](const Json& body) {
    try {
      ParseAnthropicMessages(body, ModelRegistry());
    } catch (const ApiError& e) {
      return e.status();
    }
    return 200;
  };
  EXPECT_EQ(status(Body("hi")), 400);
  EXPECT_EQ(status(Body(Json::array())), 400);
  EXPECT_EQ(status(Body(Json::array({{{"role", "robot"}, {"content", "x"}}}))), 400);
  EXPECT_EQ(status(Body(Json::array({{{"role", "user"},
                                      {"content", Json::array({{{"type", "image"}}})}}}))),
            400);
  EXPECT_EQ(status(Body(kHi, {{"max_tokens", "many"}})), 400);
  Json unknown = Body(kHi);
  unknown["model"] = "gpt-4o";
  EXPECT_EQ(status(unknown), 400);
  unknown["model"] = "claude-sonnet-4-5";
  EXPECT_EQ(status(unknown), 200);
}

GenerationOutcome Outcome(FinishReason finish, bool tool_calls = false, bool stop_string = false) {
  GenerationOutcome o;
  o.finish = finish;
  o.tool_calls = tool_calls;
  o.stop_string = stop_string;
  o.usage = {.prompt_tokens = 300, .cached_tokens = 256, .completion_tokens = 20};
  return o;
}

std::vector<std::string> Names(const std::vector<AnthropicEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.first);
  return out;
}

TEST(AnthropicWriterTest, StreamedEventSequence) {
  AnthropicMessageWriter w("msg-1", "deepseek-v4-flash", {});
  std::vector<AnthropicEvent> all = w.Start(300, true);
  auto add = [&](std::vector<AnthropicEvent> events) {
    all.insert(all.end(), events.begin(), events.end());
  };
  add(w.Delta({.reasoning = "hmm"}));
  add(w.Delta({.content = "Hel"}));
  add(w.Delta({.content = "lo"}));
  tokenizer::ParserDelta call;
  call.tool_calls.push_back({.index = 0, .id = "call_00_z", .name = "f", .arguments = "{\"a\":1}"});
  add(w.Delta(call));
  add(w.Finish(Outcome(FinishReason::kStop, true)));
  // The tool's input streams in fragments: { " a " : 1 }.
  std::vector<std::string> expected = {"message_start", "content_block_start", "ping",
                                       "content_block_delta", "content_block_delta",
                                       "content_block_stop", "content_block_start",
                                       "content_block_delta", "content_block_delta",
                                       "content_block_stop", "content_block_start"};
  for (int i = 0; i < 7; ++i) expected.push_back("content_block_delta");
  for (const char* e : {"content_block_stop", "message_delta", "message_stop"}) expected.push_back(e);
  EXPECT_EQ(Names(all), expected);
  EXPECT_EQ(all[0].second["message"]["usage"]["input_tokens"], 300);
  EXPECT_EQ(all[1].second["content_block"]["type"], "thinking");
  EXPECT_EQ(all[4].second["delta"], Json({{"type", "signature_delta"}, {"signature", "msg-1"}}));
  EXPECT_EQ(all[6].second["index"], 1);
  EXPECT_EQ(all[7].second["delta"], Json({{"type", "text_delta"}, {"text", "Hel"}}));
  EXPECT_EQ(all[10].second["content_block"],
            Json({{"type", "tool_use"}, {"id", "call_00_z"}, {"name", "f"}, {"input", Json::object()}}));
  std::string partial;
  for (int i = 11; i < 18; ++i) {
    EXPECT_EQ(all[i].second["delta"]["type"], "input_json_delta");
    partial += all[i].second["delta"]["partial_json"].get<std::string>();
  }
  EXPECT_EQ(partial, "{\"a\":1}");
  EXPECT_EQ(all[18].second["index"], 2);
  const Json& delta = all[19].second;
  EXPECT_EQ(delta["delta"]["stop_reason"], "tool_use");
  EXPECT_EQ(delta["usage"],
            Json({{"input_tokens", 44}, {"cache_creation_input_tokens", 0},
                  {"cache_read_input_tokens", 256}, {"output_tokens", 20},
                  {"service_tier", "standard"},
                  {"cost", (44 * 0.14 + 256 * 0.014 + 20 * 0.28) / 1e6}}));
}

TEST(AnthropicWriterTest, AnEmptyAnswerStillHasATextBlock) {
  AnthropicMessageWriter w("msg-2", "m", {"END"});
  std::vector<AnthropicEvent> all = w.Start(5, false);
  auto finish = w.Finish(Outcome(FinishReason::kStop, false, true));
  all.insert(all.end(), finish.begin(), finish.end());
  EXPECT_EQ(Names(all), std::vector<std::string>({"message_start", "content_block_start", "ping",
                                                  "content_block_stop", "message_delta",
                                                  "message_stop"}));
  EXPECT_EQ(all[1].second["content_block"]["type"], "text");
  EXPECT_EQ(all[4].second["delta"]["stop_reason"], "stop_sequence");
  EXPECT_EQ(all[4].second["delta"]["stop_sequence"], "END");
}

TEST(AnthropicWriterTest, MessageBody) {
  tokenizer::ParsedOutput out;
  out.reasoning = "r";
  out.content = "c";
  out.tool_calls.push_back({.index = 0, .id = "call_00_q", .name = "g", .arguments = "{\"k\":[1]}"});
  Json m = AnthropicMessageWriter("msg-3", "claude-x", {}).Message(out, Outcome(FinishReason::kLength), true);
  EXPECT_EQ(m["type"], "message");
  EXPECT_EQ(m["model"], "claude-x");
  ASSERT_EQ(m["content"].size(), 3u);
  EXPECT_EQ(m["content"][0], Json({{"type", "thinking"}, {"thinking", "r"}, {"signature", "msg-3"}}));
  EXPECT_EQ(m["content"][1], Json({{"type", "text"}, {"text", "c"}}));
  EXPECT_EQ(m["content"][2]["input"], Json({{"k", {1}}}));
  EXPECT_EQ(m["stop_reason"], "max_tokens");
  EXPECT_TRUE(m["stop_sequence"].is_null());
  EXPECT_EQ(m["usage"]["cache_read_input_tokens"], 256);
}

}  // namespace
}  // namespace dsv4::server
