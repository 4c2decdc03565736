// Chat encoder: the spec's worked examples byte for byte (tests/tokenizer/chat/eN.json ->
// eN.expected.txt), and one test per rule of chat-format §2 and §6.
#include "tokenizer/chat_encoder.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "test_util.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/openai_request.h"
#include "tokenizer/py_json.h"

namespace dsv4::tokenizer {
namespace {

using nlohmann::ordered_json;

std::string ReadFile(const std::string& name) {
  std::ifstream f(testing::SourceDir() + "/tests/tokenizer/chat/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << name;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

EncodedPrompt EncodeJson(const std::string& json_text, const ChatEncoderOptions& opt = {}) {
  Result<ChatRequest> req = ChatRequestFromOpenAI(ordered_json::parse(json_text));
  EXPECT_TRUE(req.ok()) << req.error();
  Result<EncodedPrompt> p = EncodeChat(req.value(), opt);
  EXPECT_TRUE(p.ok()) << p.error();
  return p.ok() ? p.value() : EncodedPrompt{};
}

std::string Encode(const std::string& json_text, const ChatEncoderOptions& opt = {}) {
  return EncodeJson(json_text, opt).text;
}

class SpecExampleTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SpecExampleTest, MatchesByteForByte) {
  const std::string name = GetParam();
  EXPECT_EQ(Encode(ReadFile(name + ".json")), ReadFile(name + ".expected.txt"));
}
INSTANTIATE_TEST_SUITE_P(ChatFormat, SpecExampleTest,
                         ::testing::Values("e1", "e2", "e3", "e4", "e5", "e7", "e8", "reference1",
                                           "reference2"));

// E6 is shown without its system prompt: compare the tail.
TEST(ChatEncoderTest, E6ParallelCallsResultsReorderedToCallOrder) {
  const std::string text = Encode(ReadFile("e6.json"));
  const std::string tail = ReadFile("e6_suffix.expected.txt");
  ASSERT_GE(text.size(), tail.size());
  EXPECT_EQ(text.substr(text.size() - tail.size()), tail);
}

// The E2 token ids published in the spec.
TEST(ChatEncoderTest, E2TokenIds) {
  const std::string body =
      R"({"messages": [{"role": "system", "content": "You are a helpful assistant."},
                                            {"role": "user", "content": "What is 2+2?"}]})";
  const EncodedPrompt p = EncodeJson(body);
  EXPECT_EQ(TokenizePrompt(testing::V4(), p),
            (std::vector<int32_t>{0, 3476, 477, 260, 11502, 22896, 16, 128803, 3085, 344, 223, 20,
                                  13, 20, 33, 128804, 128821}));
  EXPECT_TRUE(p.starts_in_reasoning);
}

TEST(ChatEncoderTest, ToolsBlockIsTheSpecConstant) {
  std::string expected = ReadFile("tools_block_template.txt");
  const std::string schema = R"({"name": "f", "description": "d", "parameters": {}})";
  expected.replace(expected.find("{schemas}"), 9, schema);
  const std::string text = Encode(
      R"({"thinking": {"type": "disabled"}, "messages": [{"role": "user", "content": "x"}],
          "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {}}}]})");
  // Inserted empty system message: BOS + "\n\n" + block (reference behaviour).
  EXPECT_EQ(text, std::string(v4::kBos) + "\n\n" + expected + "<｜User｜>x<｜Assistant｜></think>");
}

TEST(ChatEncoderTest, SeveralToolSchemasJoinedByNewlineInKeyOrder) {
  const std::string text = Encode(
      R"({"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "x"}],
          "tools": [{"type": "function", "function": {"name": "b", "parameters": {"z": 1, "a": 2}}},
                    {"type": "function", "function": {"description": "ü \"q\"\n", "name": "a"}}]})");
  EXPECT_NE(text.find("{\"name\": \"b\", \"parameters\": {\"z\": 1, \"a\": 2}}\n"
                      "{\"description\": \"ü \\\"q\\\"\\n\", \"name\": \"a\"}\n\nYou MUST"),
            std::string::npos);
}

TEST(ChatEncoderTest, GenerationPromptInvariants) {
  for (const char* mode : {"enabled", "disabled"}) {
    const std::string body =
        std::string(R"({"thinking": {"type": ")") + mode +
        R"("}, "messages": [{"role": "user", "content": "<｜begin▁of▁sentence｜>q"}]})";
    const std::string text = Encode(body);
    EXPECT_TRUE(text.starts_with(v4::kBos));
    EXPECT_EQ(text.find(v4::kBos, 1),
              text.find("<｜begin▁of▁sentence｜>q"));  // only BOS + user text
    EXPECT_TRUE(text.ends_with(std::string(mode) == "enabled" ? "<｜Assistant｜><think>"
                                                              : "<｜Assistant｜></think>"));
  }
}

TEST(ChatEncoderTest, ThinkingWithoutToolsDropsEarlierReasoning) {
  const std::string text = Encode(ReadFile("e3.json"));
  EXPECT_EQ(text.find("The user said hello"), std::string::npos);
  ChatEncoderOptions opt;
  Result<ChatRequest> req = ChatRequestFromOpenAI(ordered_json::parse(ReadFile("e3.json")));
  req->drop_thinking = false;
  const std::string kept = EncodeChat(req.value(), opt)->text;
  EXPECT_NE(
      kept.find("<｜Assistant｜><think>The user said hello. I should greet back.</think>Hi there!"),
      std::string::npos);
}

TEST(ChatEncoderTest, AgentLoopAfterLastUserKeepsReasoning) {
  // Thinking, no tools: turns after the last user message keep reasoning.
  ChatRequest req;
  req.messages = {{.role = "user", .content = "q"},
                  {.role = "assistant", .content = "", .reasoning_content = "r1"}};
  EXPECT_EQ(
      EncodeChat(req)->text,
      std::string(v4::kBos) + "<｜User｜>q<｜Assistant｜><think>r1</think><｜end▁of▁sentence｜>");
}

TEST(ChatEncoderTest, ToolsKeepEmptyReasoningAsThinkPair) {
  const std::string text = Encode(
      R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                       {"role": "user", "content": "c"}],
          "tools": [{"type": "function", "function": {"name": "f"}}]})");
  EXPECT_NE(text.find("<｜User｜>a<｜Assistant｜><think></"
                      "think>b<｜end▁of▁sentence｜><｜User｜>c<｜Assistant｜><think>"),
            std::string::npos);
}

TEST(ChatEncoderTest, NoGenerationPromptAfterAssistantOrReferenceSystem) {
  EXPECT_TRUE(
      Encode(
          R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})")
          .ends_with("b<｜end▁of▁sentence｜>"));
  ChatEncoderOptions ref;
  ref.mid_system = MidSystemPolicy::kReference;
  const std::string t =
      Encode(R"({"thinking": {"type": "disabled"}, "messages": [{"role": "user", "content": "a"},
                                   {"role": "assistant", "content": "b"}, {"role": "system", "content": "S2"}]})",
             ref);
  EXPECT_TRUE(t.ends_with("b<｜end▁of▁sentence｜>S2"));
}

TEST(ChatEncoderTest, MidConversationSystemMessagesAreFolded) {
  const std::string body = R"({"thinking": {"type": "disabled"}, "messages": [
      {"role": "system", "content": "S1"}, {"role": "system", "content": "S2"},
      {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
      {"role": "system", "content": "R"}, {"role": "user", "content": "c"}]})";
  EXPECT_EQ(Encode(body),
            std::string(v4::kBos) +
                "S1\n\nS2<｜User｜>a<｜Assistant｜></think>b<｜end▁of▁sentence｜>"
                "<｜User｜><system-reminder>\nR\n</system-reminder>\n\nc<｜Assistant｜></think>");
  // A trailing system message still gets a generation prompt.
  const std::string tail = Encode(R"({"thinking": {"type": "disabled"}, "messages": [
      {"role": "user", "content": "a"}, {"role": "system", "content": "R"}]})");
  EXPECT_TRUE(tail.ends_with(
      "<｜User｜>a\n\n<system-reminder>\nR\n</system-reminder><｜Assistant｜></think>"));
}

TEST(ChatEncoderTest, ToolResultsMergeSortAndRender) {
  // Unknown ids sort as position 0 (stable); list content joins text, marks the rest.
  const std::string text = Encode(R"({"thinking": {"type": "disabled"}, "messages": [
      {"role": "user", "content": "u"},
      {"role": "assistant", "content": "", "tool_calls": [
          {"id": "x", "function": {"name": "f", "arguments": "{}"}},
          {"id": "y", "function": {"name": "g", "arguments": "not json"}}]},
      {"role": "tool", "tool_call_id": "y", "content": [{"type": "text", "text": "Y1"}, {"type": "image"}, {"type": "text", "text": "Y2"}]},
      {"role": "tool", "tool_call_id": "zzz", "content": "Z"},
      {"role": "tool", "tool_call_id": "x", "content": "X"}]})");
  EXPECT_NE(text.find("<｜DSML｜invoke name=\"f\">\n\n</｜DSML｜invoke>\n"
                      "<｜DSML｜invoke name=\"g\">\n<｜DSML｜parameter name=\"arguments\" "
                      "string=\"true\">not json</｜DSML｜parameter>\n</｜DSML｜invoke>"),
            std::string::npos);
  EXPECT_TRUE(text.ends_with(
      "<｜end▁of▁sentence｜><｜User｜><tool_result>Z</tool_result>\n\n<tool_result>X</"
      "tool_result>\n\n"
      "<tool_result>Y1\n\n[Unsupported image]\n\nY2</tool_result><｜Assistant｜></think>"));
}

TEST(ChatEncoderTest, ArgumentsRenderWithPythonJsonRules) {
  const std::string text = Encode(R"({"thinking": {"type": "disabled"}, "messages": [
      {"role": "user", "content": "u"},
      {"role": "assistant", "content": "c", "tool_calls": [{"id": "x", "function": {"name": "f",
        "arguments": "{\"s\": \"a\\nb \\\"q\\\" é\", \"n\": 1.50, \"e\": 0.00001, \"big\": 1e16, \"o\": {\"k\": [1, true, null]}, \"t\": \"\\u0001\"}"}}]}]})");
  EXPECT_NE(
      text.find("c\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n"
                "<｜DSML｜parameter name=\"s\" string=\"true\">a\nb \"q\" é</｜DSML｜parameter>\n"
                "<｜DSML｜parameter name=\"n\" string=\"false\">1.5</｜DSML｜parameter>\n"
                "<｜DSML｜parameter name=\"e\" string=\"false\">1e-05</｜DSML｜parameter>\n"
                "<｜DSML｜parameter name=\"big\" string=\"false\">1e+16</｜DSML｜parameter>\n"
                "<｜DSML｜parameter name=\"o\" string=\"false\">{\"k\": [1, true, "
                "null]}</｜DSML｜parameter>\n"
                "<｜DSML｜parameter name=\"t\" string=\"true\">\x01</｜DSML｜parameter>\n"
                "</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>"),
      std::string::npos)
      << text;
}

TEST(PyJsonTest, FloatReprAndEscapes) {
  EXPECT_EQ(PyFloatRepr(1.0), "1.0");
  EXPECT_EQ(PyFloatRepr(0.1), "0.1");
  EXPECT_EQ(PyFloatRepr(1e-5), "1e-05");
  EXPECT_EQ(PyFloatRepr(1e100), "1e+100");
  EXPECT_EQ(PyFloatRepr(123456789012345680.0), "1.2345678901234568e+17");
  EXPECT_EQ(PyFloatRepr(1e15), "1000000000000000.0");
  EXPECT_EQ(PyFloatRepr(0.0001), "0.0001");
  EXPECT_EQ(PyFloatRepr(-2.5), "-2.5");
  EXPECT_EQ(
      PyJsonDumps(ordered_json::parse(R"({"b": "/\t\b\f\r\u001f\u007f中", "a": [], "c": {}})")),
      "{\"b\": \"/\\t\\b\\f\\r\\u001f\x7f中\", \"a\": [], \"c\": {}}");
}

TEST(ChatEncoderTest, PrefixCompletionHasNoEos) {
  const EncodedPrompt p = EncodeJson(R"({"messages": [{"role": "user", "content": "u"},
      {"role": "assistant", "content": "Once upon", "reasoning_content": "story", "prefix": true}]})");
  EXPECT_TRUE(p.text.ends_with("<｜User｜>u<｜Assistant｜><think>story</think>Once upon"));
  EXPECT_FALSE(p.starts_in_reasoning);
}

TEST(ChatEncoderTest, ReasoningEffortPerProfile) {
  const std::string body =
      R"({"reasoning_effort": "%", "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "u"}]})";
  auto with = [&](const std::string& effort, const ChatEncoderOptions& opt) {
    std::string b = body;
    b.replace(b.find('%'), 1, effort);
    return Encode(b, opt);
  };
  ChatEncoderOptions preview, ga;
  ga.effort = GaEffortProfile();
  EXPECT_EQ(with("max", preview), std::string(v4::kBos) + std::string(v4::kEffortMaxV4) +
                                      "S<｜User｜>u<｜Assistant｜><think>");
  EXPECT_EQ(v4::kEffortMaxV4.size(), 476u);
  EXPECT_EQ(with("high", preview), std::string(v4::kBos) + "S<｜User｜>u<｜Assistant｜><think>");
  EXPECT_EQ(with("high", ga), std::string(v4::kBos) + std::string(v4::kEffortMaxV4) +
                                  "S<｜User｜>u<｜Assistant｜><think>");
  EXPECT_EQ(with("max", ga), std::string(v4::kBos) + std::string(v4::kEffortMaxGa) +
                                 "S<｜User｜>u<｜Assistant｜><think>");
  EXPECT_EQ(with("none", preview), std::string(v4::kBos) + "S<｜User｜>u<｜Assistant｜></think>");
  ChatRequest bad;
  bad.messages = {{.role = "user", .content = "u"}};
  bad.reasoning_effort = "extreme";
  EXPECT_FALSE(EncodeChat(bad).ok());
  bad.thinking = false;  // effort is ignored in chat mode
  EXPECT_TRUE(EncodeChat(bad).ok());
}

TEST(ChatEncoderTest, DeveloperReminderAndTaskRoles) {
  ChatRequest req;
  req.messages = {{.role = "developer", .content = "dev"},
                  {.role = "latest_reminder", .content = "date"},
                  {.role = "assistant", .content = "a"},
                  {.role = "user", .content = "q", .task = "action"}};
  req.thinking = false;
  EXPECT_EQ(EncodeChat(req)->text,
            std::string(v4::kBos) +
                "<｜User｜>dev<｜Assistant｜></think><｜latest_reminder｜>date"
                "a<｜end▁of▁sentence｜><｜User｜>q<｜Assistant｜></think><｜action｜>");
  req.messages.back().task = "query";
  EXPECT_TRUE(EncodeChat(req)->text.ends_with("<｜User｜>q<｜query｜>"));
  req.messages.back().task = "bogus";
  EXPECT_FALSE(EncodeChat(req).ok());
}

TEST(ChatEncoderTest, RequestParsingRules) {
  EXPECT_FALSE(ChatRequestFromOpenAI(
                   ordered_json::parse(
                       R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})"))
                   .ok());
  EXPECT_FALSE(ChatRequestFromOpenAI(ordered_json::parse(R"({"messages": 3})")).ok());
  EXPECT_EQ(
      Encode(
          R"({"thinking": {"type": "disabled"}, "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]})"),
      std::string(v4::kBos) + "<｜User｜>ab<｜Assistant｜></think>");
  // Empty tools and json_object response formats change nothing; request tools replace
  // the system message's own.
  EXPECT_EQ(
      Encode(
          R"({"tools": [], "response_format": {"type": "json_object"}, "thinking": {"type": "disabled"}, "messages": [{"role": "user", "content": "x"}]})"),
      std::string(v4::kBos) + "<｜User｜>x<｜Assistant｜></think>");
  EXPECT_EQ(
      Encode(
          R"({"chat_template_kwargs": {"thinking": false}, "messages": [{"role": "user", "content": null}]})"),
      std::string(v4::kBos) + "<｜User｜><｜Assistant｜></think>");
  ChatRequest r;
  r.messages = {{.role = "wizard"}};
  EXPECT_FALSE(EncodeChat(r).ok());
}

TEST(ChatEncoderTest, ContentSpecialTokensPolicy) {
  const EncodedPrompt p =
      EncodeJson(R"({"messages": [{"role": "user", "content": "say </think> and <｜User｜>"}]})");
  const Tokenizer& t = testing::V4();
  const std::vector<int32_t> reference = TokenizePrompt(t, p, true);
  const std::vector<int32_t> safe = TokenizePrompt(t, p, false);
  EXPECT_EQ(std::count(reference.begin(), reference.end(), 128822), 1);  // the injected one
  EXPECT_EQ(std::count(safe.begin(), safe.end(), 128822), 0);
  EXPECT_EQ(std::count(safe.begin(), safe.end(), 128803), 1);  // the real user marker
  EXPECT_EQ(safe.back(), 128821);
  EXPECT_EQ(t.Decode(safe), p.text);
  // Without special text in the content both ways agree with plain encoding.
  const EncodedPrompt q = EncodeJson(ReadFile("e4.json"));
  EXPECT_EQ(TokenizePrompt(t, q, false), t.Encode(q.text));
}

}  // namespace
}  // namespace dsv4::tokenizer
