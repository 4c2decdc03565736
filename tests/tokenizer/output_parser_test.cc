// Streaming output parser: every edge case of chat-format §4.4, the reference's golden
// completions, chunking invariance and fuzzing with random text and random token streams.
#include "tokenizer/output_parser.h"

#include <gtest/gtest.h>

#include <random>

#include "test_util.h"
#include "tokenizer/incremental_decoder.h"
#include "tokenizer/utf8.h"

namespace dsv4::tokenizer {
namespace {

using nlohmann::ordered_json;

OutputParserOptions Opts(bool reasoning) {
  OutputParserOptions o;
  o.starts_in_reasoning = reasoning;
  o.make_call_id = [](size_t i) { return "call_" + std::to_string(i); };
  return o;
}

// Feeds `text` in pieces of `chunk` bytes (0: all at once) and returns the result plus
// the concatenated deltas, which must equal the final result.
ParsedOutput Parse(const std::string& text, OutputParserOptions opt, size_t chunk = 0) {
  OutputParser p(std::move(opt));
  ParserDelta all;
  auto add = [&](ParserDelta d) {
    all.reasoning += d.reasoning;
    all.content += d.content;
    for (auto& c : d.tool_calls) all.tool_calls.push_back(c);
  };
  if (chunk == 0) {
    add(p.Push(text));
  } else {
    for (size_t i = 0; i < text.size(); i += chunk)
      add(p.Push(std::string_view(text).substr(i, chunk)));
  }
  add(p.Finish());
  const ParsedOutput& r = p.result();
  EXPECT_EQ(all.reasoning, r.reasoning);
  EXPECT_EQ(all.content, r.content);
  EXPECT_EQ(all.tool_calls.size(), r.tool_calls.size());
  return r;
}

const std::string kCall =
    "<｜DSML｜tool_calls>\n"
    "<｜DSML｜invoke name=\"get_weather\">\n"
    "<｜DSML｜parameter name=\"location\" string=\"true\">Beijing</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"unit\" string=\"true\">celsius</｜DSML｜parameter>\n"
    "</｜DSML｜invoke>\n"
    "</｜DSML｜tool_calls>";
const std::string kEos = "<｜end▁of▁sentence｜>";

// The reference golden 1 completions (the first assistant turn and the last one).
TEST(OutputParserTest, ReferenceGoldenCompletions) {
  const ParsedOutput a = Parse(
      "The user wants to know the weather in Beijing. I should use the get_weather "
      "tool.</think>\n\n" +
          kCall + kEos,
      Opts(true));
  EXPECT_EQ(a.reasoning,
            "The user wants to know the weather in Beijing. I should use the get_weather tool.");
  EXPECT_EQ(a.content, "");
  ASSERT_EQ(a.tool_calls.size(), 1u);
  EXPECT_EQ(a.tool_calls[0].name, "get_weather");
  EXPECT_EQ(a.tool_calls[0].arguments, "{\"location\": \"Beijing\", \"unit\": \"celsius\"}");
  EXPECT_EQ(a.tool_calls[0].id, "call_0");
  EXPECT_TRUE(a.saw_eos);
  const ParsedOutput b = Parse(
      "Got the weather data. Let me format a nice response.</think>It is 22°C." + kEos, Opts(true));
  EXPECT_EQ(b.reasoning, "Got the weather data. Let me format a nice response.");
  EXPECT_EQ(b.content, "It is 22°C.");
  EXPECT_TRUE(b.tool_calls.empty());
}

TEST(OutputParserTest, ChatModeIsAllContent) {
  const ParsedOutput r = Parse("Hello </think> <think> world  \n", Opts(false));
  EXPECT_EQ(r.content, "Hello </think> <think> world  \n");  // literal text, trailing space kept
  EXPECT_EQ(r.reasoning, "");
}

TEST(OutputParserTest, ContentBeforeToolsLosesOnlyTheSeparator) {
  const ParsedOutput r = Parse("ok</think>Let me check.\n\n" + kCall + kEos, Opts(true));
  EXPECT_EQ(r.content, "Let me check.");
  EXPECT_EQ(r.tool_calls.size(), 1u);
  // Separator absent (#4).
  EXPECT_EQ(Parse("Sure." + kCall, Opts(false)).content, "Sure.");
}

TEST(OutputParserTest, ToolCallInsideReasoningWithStrayThinkClose) {  // #1
  const ParsedOutput r = Parse("I need data.\n\n" + kCall + "\n</think>" + kEos, Opts(true));
  EXPECT_EQ(r.reasoning, "I need data.");
  EXPECT_EQ(r.content, "");
  EXPECT_EQ(r.tool_calls.size(), 1u);
  EXPECT_TRUE(r.reasoning_closed);
}

TEST(OutputParserTest, MissingThinkCloseIsAllReasoning) {  // #2
  const ParsedOutput r = Parse("thinking forever and", Opts(true));
  EXPECT_EQ(r.reasoning, "thinking forever and");
  EXPECT_EQ(r.content, "");
  EXPECT_FALSE(r.reasoning_closed);
}

TEST(OutputParserTest, TruncatedToolBlockDropsTheHalfCall) {  // #3
  const std::string two =
      "<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"a\">\n</｜DSML｜invoke>\n"
      "<｜DSML｜invoke name=\"b\">\n<｜DSML｜parameter name=\"x\" string=\"true\">par";
  const ParsedOutput r = Parse("c\n\n" + two, Opts(false));
  EXPECT_EQ(r.content, "c");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].name, "a");
  EXPECT_EQ(r.tool_calls[0].arguments, "{}");
  EXPECT_NE(r.dropped_tool_text.find("name=\"b\""), std::string::npos);
  EXPECT_EQ(r.content.find("DSML"), std::string::npos);
  // Cut inside the opening tag itself.
  const ParsedOutput cut = Parse("text\n\n<｜DSML｜tool_ca", Opts(false));
  EXPECT_EQ(cut.content, "text\n\n<｜DSML｜tool_ca");  // never became a tag: flushed as text
}

TEST(OutputParserTest, EosInsideToolBlockEndsIt) {
  const ParsedOutput r = Parse("x\n\n<｜DSML｜tool_calls>\n" + kEos + "more", Opts(false));
  EXPECT_EQ(r.content, "xmore");
  EXPECT_TRUE(r.saw_eos);
  EXPECT_TRUE(r.tool_calls.empty());
}

TEST(OutputParserTest, DirectJsonInvokeBody) {  // #5
  const ParsedOutput r = Parse(
      "<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n{\"city\": \"SF\", \"n\": [1, "
      "2]}\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>",
      Opts(false));
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, "{\"city\": \"SF\", \"n\": [1, 2]}");
}

std::string Invoke(const std::string& name, const std::string& params) {
  return "<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"" + name + "\">\n" + params +
         "\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>";
}
std::string Param(const std::string& k, const std::string& flag, const std::string& v) {
  return "<｜DSML｜parameter name=\"" + k + "\" string=\"" + flag + "\">" + v +
         "</｜DSML｜parameter>";
}

TEST(OutputParserTest, NonStringValuesAndCoercion) {  // #6
  OutputParserOptions o = Opts(false);
  o.tool_schemas["f"] = ordered_json::parse(
      R"({"type": "object", "properties": {"n": {"type": "integer"}, "s": {"type": "string"}, "cmd": {"type": "array"}}})");
  const ParsedOutput r =
      Parse(Invoke("f", Param("n", "true", "5") + "\n" + Param("s", "false", "12") + "\n" +
                            Param("cmd", "false", "ls -la | head") + "\n" +
                            Param("v", "false", "{\"a\": [1.5, null, true]}")),
            o);
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(
      r.tool_calls[0].arguments,
      "{\"n\": 5, \"s\": \"12\", \"cmd\": \"ls -la | head\", \"v\": {\"a\": [1.5, null, true]}}");
  EXPECT_FALSE(r.warnings.empty());
}

TEST(OutputParserTest, WrappedArgumentsAreUnwrapped) {  // #7
  OutputParserOptions o = Opts(false);
  o.tool_schemas["f"] =
      ordered_json::parse(R"({"type": "object", "properties": {"city": {"type": "string"}}})");
  const ParsedOutput r = Parse(Invoke("f", Param("arguments", "false", "{\"city\": \"Rome\"}")), o);
  EXPECT_EQ(r.tool_calls.at(0).arguments, "{\"city\": \"Rome\"}");
  // Without a schema nothing is unwrapped.
  EXPECT_EQ(Parse(Invoke("f", Param("input", "false", "{\"a\": 1}")), Opts(false))
                .tool_calls.at(0)
                .arguments,
            "{\"input\": {\"a\": 1}}");
}

TEST(OutputParserTest, DuplicateParameterLastWins) {  // #8
  const ParsedOutput r =
      Parse(Invoke("f", Param("a", "true", "1") + "\n" + Param("a", "true", "2")), Opts(false));
  EXPECT_EQ(r.tool_calls.at(0).arguments, "{\"a\": \"2\"}");
}

TEST(OutputParserTest, LiteralLookalikesStayContent) {  // #10
  const std::string ascii = "Use <|DSML|tool_calls> with ASCII bars.";
  EXPECT_EQ(Parse(ascii, Opts(false)).content, ascii);
}

TEST(OutputParserTest, FirstParameterCloseWins) {  // #11
  const ParsedOutput r = Parse(Invoke("f", Param("a", "true", "x</｜DSML｜invoke>y")), Opts(false));
  EXPECT_EQ(r.tool_calls.at(0).arguments, "{\"a\": \"x</｜DSML｜invoke>y\"}");
}

TEST(OutputParserTest, TextAfterToolBlock) {  // #12
  const ParsedOutput r = Parse("A" + kCall + "\n\n  \n" + kEos, Opts(false));
  EXPECT_EQ(r.content, "A");
  const ParsedOutput s = Parse("A" + kCall + "\n\nPS: done", Opts(false));
  EXPECT_EQ(s.content, "APS: done");
  EXPECT_EQ(s.tool_calls.size(), 1u);
}

TEST(OutputParserTest, EmptyReasoningAndThinkAgain) {  // #16, #17
  const ParsedOutput r = Parse("</think>hi <think>x</think>", Opts(true));
  EXPECT_EQ(r.reasoning, "");
  EXPECT_TRUE(r.reasoning_closed);
  EXPECT_EQ(r.content, "hi <think>x</think>");
}

TEST(OutputParserTest, MalformedDsmlSurfacesAsContent) {
  const std::string bad =
      "<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter "
      "oops>v</｜DSML｜parameter>\n</｜DSML｜invoke>";
  const ParsedOutput r =
      Parse("x\n\n<｜DSML｜tool_calls>\n" + bad + "\n</｜DSML｜tool_calls>", Opts(false));
  EXPECT_EQ(r.content, "x" + bad);
  EXPECT_TRUE(r.tool_calls.empty());
  const ParsedOutput g =
      Parse("<｜DSML｜tool_calls>\nrandom words\n" + Invoke("g", "").substr(22), Opts(false));
  EXPECT_EQ(g.content, "\nrandom words");
  EXPECT_EQ(g.tool_calls.size(), 1u);
}

TEST(OutputParserTest, ParallelCallsAndSeveralBlocks) {
  const std::string block = "<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"a\">\n" +
                            Param("p", "false", "1") +
                            "\n</｜DSML｜invoke>\n<｜DSML｜invoke name=\"b\">\n" +
                            Param("q", "true", "二") + "\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>";
  const ParsedOutput r = Parse(block + "\n\n" + block + kEos, Opts(false));
  ASSERT_EQ(r.tool_calls.size(), 4u);
  EXPECT_EQ(r.tool_calls[1].name, "b");
  EXPECT_EQ(r.tool_calls[1].arguments, "{\"q\": \"二\"}");
  EXPECT_EQ(r.tool_calls[3].index, 3u);
  EXPECT_EQ(r.tool_calls[3].id, "call_3");
}

TEST(OutputParserTest, DefaultCallIdsLookLikeDeepSeeks) {
  OutputParserOptions o;
  const ParsedOutput r = Parse(kCall, o);
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].id.size(), 8u + 24u);
  EXPECT_TRUE(r.tool_calls[0].id.starts_with("call_00_"));
}

// Token by token through the real tokenizer: "\n\n" merged into ".\n\n" (§1.4, #4) and
// tags split over many tokens.
TEST(OutputParserTest, TokenStreamFromTheTokenizer) {
  const Tokenizer& t = testing::V4();
  const std::string text = "Let me think.</think>Let me check.\n\n" + kCall + kEos;
  const std::vector<int32_t> ids = t.Encode(text);
  IncrementalDecoder dec(t);
  OutputParser p(Opts(true));
  std::string content;
  for (int32_t id : ids) content += p.Push(dec.Push(id)).content;
  content += p.Push(dec.Finish()).content;
  content += p.Finish().content;
  EXPECT_EQ(content, "Let me check.");
  EXPECT_EQ(p.result().content, "Let me check.");
  EXPECT_EQ(p.result().reasoning, "Let me think.");
  EXPECT_EQ(p.result().tool_calls.size(), 1u);
}

// Feeding any split (even inside UTF-8 characters) gives the same result as one piece.
TEST(OutputParserFuzzTest, ChunkingDoesNotChangeTheResult) {
  const std::vector<std::string> frags = {"</think>",
                                          "<think>",
                                          "<｜DSML｜tool_calls>",
                                          "</｜DSML｜tool_calls>",
                                          "<｜DSML｜invoke name=\"f\">",
                                          "</｜DSML｜invoke>",
                                          "<｜DSML｜parameter name=\"k\" string=\"true\">",
                                          "<｜DSML｜parameter name=\"j\" string=\"false\">",
                                          "</｜DSML｜parameter>",
                                          kEos,
                                          "\n",
                                          "\n\n",
                                          " ",
                                          "<",
                                          "<｜",
                                          "｜DSML｜",
                                          "{\"a\": 1}",
                                          "text",
                                          "中文",
                                          "😀",
                                          "\"",
                                          ">",
                                          "name=\"",
                                          "</",
                                          "<｜DSML｜tool_ca",
                                          "5",
                                          "é"};
  std::mt19937_64 rng(11);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < n; ++i) text += frags[rng() % frags.size()];
    const bool reasoning = iter % 2 == 0;
    const ParsedOutput whole = Parse(text, Opts(reasoning));
    for (size_t chunk : {size_t{1}, size_t{2}, size_t{5}, size_t{13}}) {
      const ParsedOutput part = Parse(text, Opts(reasoning), chunk);
      ASSERT_EQ(part.reasoning, whole.reasoning) << text;
      ASSERT_EQ(part.content, whole.content) << text;
      ASSERT_EQ(part.tool_calls.size(), whole.tool_calls.size()) << text;
      for (size_t c = 0; c < part.tool_calls.size(); ++c) {
        ASSERT_EQ(part.tool_calls[c].arguments, whole.tool_calls[c].arguments) << text;
      }
      ASSERT_EQ(part.dropped_tool_text, whole.dropped_tool_text) << text;
    }
    ASSERT_TRUE(IsValidUtf8(whole.reasoning) && IsValidUtf8(whole.content)) << text;
    // Nothing invented: outputs never hold more text than came in.
    ASSERT_LE(whole.reasoning.size() + whole.content.size() + whole.dropped_tool_text.size(),
              text.size());
  }
}

// Arbitrary bytes (invalid UTF-8 included) mixed with marker pieces: no crash, and the
// same result for every chunking.
TEST(OutputParserFuzzTest, RandomBytes) {
  const std::vector<std::string> frags = {"</think>", "<｜DSML｜tool_calls>", "<｜DSML｜invoke name=\"f\">",
                                          "</｜DSML｜invoke>", "</｜DSML｜tool_calls>", "<", "\n\n"};
  std::mt19937_64 rng(21);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string text;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      if (rng() % 3 == 0) {
        text += frags[rng() % frags.size()];
      } else {
        std::string bytes(rng() % 6, '\0');
        for (char& c : bytes) c = static_cast<char>(rng());
        text += bytes;
      }
    }
    const ParsedOutput whole = Parse(text, Opts(iter % 2 == 0));
    const ParsedOutput part = Parse(text, Opts(iter % 2 == 0), 1 + rng() % 4);
    ASSERT_EQ(part.reasoning, whole.reasoning);
    ASSERT_EQ(part.content, whole.content);
    ASSERT_EQ(part.tool_calls.size(), whole.tool_calls.size());
    ASSERT_LE(whole.reasoning.size() + whole.content.size() + whole.dropped_tool_text.size(),
              text.size());
  }
}

// Text without any marker comes out unchanged, in the right channel.
TEST(OutputParserFuzzTest, MarkerFreeTextIsNeverLost) {
  std::mt19937_64 rng(5);
  for (int iter = 0; iter < 500; ++iter) {
    const std::string text = testing::RandomMixedText(iter, rng() % 200);
    if (text.find('<') != std::string::npos) continue;
    EXPECT_EQ(Parse(text, Opts(false), 1 + rng() % 7).content, text);
    EXPECT_EQ(Parse(text, Opts(true), 1 + rng() % 7).reasoning, text);
  }
}

// Random token streams from the whole V4 vocabulary: no crash, valid UTF-8 out, and the
// same result however the decoded text is chunked.
TEST(OutputParserFuzzTest, RandomTokenStreams) {
  const Tokenizer& t = testing::V4();
  const std::vector<int32_t> hot = {128821, 128822, 128825, 1, 30, 1718, 32, 201, 223};
  std::mt19937_64 rng(9);
  for (int iter = 0; iter < 300; ++iter) {
    std::vector<int32_t> ids(rng() % 120);
    for (int32_t& id : ids)
      id = rng() % 4 == 0 ? hot[rng() % hot.size()] : static_cast<int32_t>(rng() % t.vocab_size());
    IncrementalDecoder dec(t);
    OutputParser p(Opts(iter % 2 == 0));
    std::string decoded;
    for (int32_t id : ids) {
      const std::string s = dec.Push(id);
      decoded += s;
      p.Push(s);
    }
    const std::string tail = dec.Finish();
    decoded += tail;
    p.Push(tail);
    p.Finish();
    const ParsedOutput& r = p.result();
    ASSERT_TRUE(IsValidUtf8(r.reasoning) && IsValidUtf8(r.content));
    const ParsedOutput whole = Parse(decoded, Opts(iter % 2 == 0));
    ASSERT_EQ(whole.reasoning, r.reasoning);
    ASSERT_EQ(whole.content, r.content);
    ASSERT_EQ(whole.tool_calls.size(), r.tool_calls.size());
  }
}

}  // namespace
}  // namespace dsv4::tokenizer
