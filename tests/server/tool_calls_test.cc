// Tool calls end to end below HTTP: DeepSeek-V4 output text (reasoning, content, a DSML
// block with two parallel calls), fed in small pieces through the streaming output parser,
// then shaped by both writers: OpenAI tool_calls deltas / message and Anthropic tool_use
// blocks with stop reasons tool_calls / tool_use.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/anthropic_messages.h"
#include "server/openai_chat.h"
#include "tokenizer/output_parser.h"

namespace dsv4::server {
namespace {

const std::string kOutput =
    "The user wants weather for two cities.</think>Let me check both.\n\n"
    "<｜DSML｜tool_calls>\n"
    "<｜DSML｜invoke name=\"get_weather\">\n"
    "<｜DSML｜parameter name=\"city\" string=\"true\">Paris</｜DSML｜parameter>\n"
    "</｜DSML｜invoke>\n"
    "<｜DSML｜invoke name=\"get_weather\">\n"
    "<｜DSML｜parameter name=\"city\" string=\"true\">Tokyo</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"days\" string=\"false\">3</｜DSML｜parameter>\n"
    "</｜DSML｜invoke>\n"
    "</｜DSML｜tool_calls>";

// The parser's deltas for kOutput pushed 5 bytes at a time (splitting tags and UTF-8).
std::vector<tokenizer::ParserDelta> Deltas(tokenizer::OutputParser* parser) {
  std::vector<tokenizer::ParserDelta> out;
  for (size_t i = 0; i < kOutput.size(); i += 5) out.push_back(parser->Push(kOutput.substr(i, 5)));
  out.push_back(parser->Finish());
  return out;
}

tokenizer::OutputParser Parser() {
  tokenizer::OutputParserOptions o;
  o.starts_in_reasoning = true;
  o.make_call_id = [](size_t i) { return "call_0" + std::to_string(i) + "_test"; };
  return tokenizer::OutputParser(o);
}

GenerationOutcome Outcome(const tokenizer::OutputParser& parser) {
  GenerationOutcome o;
  o.finish = FinishReason::kStop;
  o.tool_calls = !parser.result().tool_calls.empty();
  return o;
}

TEST(ToolCallsTest, OpenAIStreamAndMessage) {
  tokenizer::OutputParser parser = Parser();
  OpenAIChatWriter writer("id", "deepseek-v4-flash", 0, true, true);
  std::string reasoning, content;
  std::vector<Json> calls;
  for (const auto& d : Deltas(&parser)) {
    for (const Json& chunk : writer.DeltaChunks(d)) {
      const Json& delta = chunk["choices"][0]["delta"];
      if (delta.contains("reasoning_content") && delta["reasoning_content"].is_string()) {
        reasoning += delta["reasoning_content"].get<std::string>();
      }
      if (delta.contains("content") && delta["content"].is_string()) {
        content += delta["content"].get<std::string>();
      }
      if (!delta.contains("tool_calls")) continue;
      // As a client assembles them: a header per call, then argument fragments by index.
      const Json& part = delta["tool_calls"][0];
      if (part.contains("id")) {
        calls.push_back(part);
      } else {
        ASSERT_EQ(part["index"], calls.size() - 1);
        calls.back()["function"]["arguments"] =
            calls.back()["function"]["arguments"].get<std::string>() +
            part["function"]["arguments"].get<std::string>();
      }
    }
  }
  EXPECT_EQ(reasoning, "The user wants weather for two cities.");
  EXPECT_EQ(content, "Let me check both.");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0], Json({{"index", 0}, {"id", "call_00_test"}, {"type", "function"},
                            {"function", {{"name", "get_weather"},
                                          {"arguments", "{\"city\": \"Paris\"}"}}}}));
  EXPECT_EQ(calls[1]["index"], 1);
  EXPECT_EQ(Json::parse(calls[1]["function"]["arguments"].get<std::string>()),
            Json({{"city", "Tokyo"}, {"days", 3}}));
  EXPECT_EQ(writer.FinalChunk(Outcome(parser))["choices"][0]["finish_reason"], "tool_calls");

  Json body = writer.Completion(parser.result(), Outcome(parser));
  EXPECT_EQ(body["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(body["choices"][0]["message"]["tool_calls"].size(), 2u);
  EXPECT_EQ(body["choices"][0]["message"]["content"], "Let me check both.");
}

TEST(ToolCallsTest, AnthropicStreamAndMessage) {
  tokenizer::OutputParser parser = Parser();
  AnthropicMessageWriter writer("msg", "deepseek-v4-flash", {});
  std::vector<AnthropicEvent> events = writer.Start(10, true);
  for (const auto& d : Deltas(&parser)) {
    auto more = writer.Delta(d);
    events.insert(events.end(), more.begin(), more.end());
  }
  auto end = writer.Finish(Outcome(parser));
  events.insert(events.end(), end.begin(), end.end());

  std::vector<std::string> block_types;
  std::string json0;
  for (const auto& [name, data] : events) {
    if (name == "content_block_start") block_types.push_back(data["content_block"]["type"]);
    if (name == "content_block_delta" && data["delta"]["type"] == "input_json_delta" &&
        data["index"] == 2) {
      json0 += data["delta"]["partial_json"].get<std::string>();
    }
  }
  EXPECT_EQ(block_types, std::vector<std::string>({"thinking", "text", "tool_use", "tool_use"}));
  EXPECT_EQ(Json::parse(json0), Json({{"city", "Paris"}}));
  EXPECT_EQ(events[events.size() - 2].second["delta"]["stop_reason"], "tool_use");

  Json m = writer.Message(parser.result(), Outcome(parser), true);
  ASSERT_EQ(m["content"].size(), 4u);
  EXPECT_EQ(m["content"][3], Json({{"type", "tool_use"}, {"id", "call_01_test"},
                                   {"name", "get_weather"},
                                   {"input", {{"city", "Tokyo"}, {"days", 3}}}}));
  EXPECT_EQ(m["stop_reason"], "tool_use");
}

}  // namespace
}  // namespace dsv4::server
