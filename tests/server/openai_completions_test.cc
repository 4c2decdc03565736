// The completions surface below HTTP: prompt forms, BOS, FIM layout (and the 400 without
// FIM tokens), validation, and the text_completion shapes; and tool-call argument
// fragments.
#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/argument_fragments.h"
#include "server/openai_completions.h"
#include "test_tokenizer.h"

namespace dsv4::server {
namespace {

CompletionJob Parse(const std::string& body, const tokenizer::Tokenizer& tok) {
  return ParseOpenAICompletion(Json::parse(body), ModelRegistry(), tok, 0);
}

int ApiStatus(const std::string& body, const tokenizer::Tokenizer& tok) {
  try {
    Parse(body, tok);
  } catch (const ApiError& e) {
    return e.status();
  }
  return 200;
}

TEST(OpenAICompletionsTest, PromptFormsGetBos) {
  const tokenizer::Tokenizer tok = TestTokenizer();
  CompletionJob c = Parse(R"({"model": "deepseek-chat", "prompt": "ab"})", tok);
  EXPECT_EQ(c.prompt, std::vector<int32_t>({0, 'a' + 2, 'b' + 2}));
  EXPECT_EQ(c.job.max_tokens, 16);  // OpenAI's default
  EXPECT_FALSE(c.job.stream);
  EXPECT_EQ(c.logprobs, -1);
  EXPECT_EQ(Parse(R"({"model": "deepseek-chat", "prompt": ["ab"]})", tok).prompt, c.prompt);
  EXPECT_EQ(Parse(R"({"model": "deepseek-chat", "prompt": [0, 99, 100]})", tok).prompt,
            std::vector<int32_t>({0, 99, 100}));  // BOS not doubled
  // Raw prompts may carry chat markers on purpose.
  EXPECT_EQ(Parse(R"({"model": "deepseek-chat", "prompt": "<｜User｜>"})", tok).prompt.back(),
            *tok.TokenId("<｜User｜>"));
  CompletionJob e = Parse(R"({"model": "deepseek-chat", "prompt": "ab",
                              "logprobs": 3, "stop": "x", "max_tokens": 5})", tok);
  EXPECT_EQ(e.logprobs, 3);
  EXPECT_TRUE(e.job.logprobs);
  EXPECT_EQ(e.job.top_logprobs, 3);
  EXPECT_EQ(e.job.stop, std::vector<std::string>({"x"}));
}

TEST(OpenAICompletionsTest, FimLayoutAndItsAbsence) {
  const tokenizer::Tokenizer fim = TestTokenizer(true);
  CompletionJob c = Parse(R"({"model": "deepseek-chat", "prompt": "a<｜User｜>", "suffix": "b"})", fim);
  std::vector<int32_t> expected = {0, *fim.TokenId("<｜fim▁begin｜>"), 'a' + 2};
  for (unsigned char ch : std::string("<｜User｜>")) expected.push_back(ch + 2);  // data, not a marker
  expected.push_back(*fim.TokenId("<｜fim▁hole｜>"));
  expected.push_back('b' + 2);
  expected.push_back(*fim.TokenId("<｜fim▁end｜>"));
  EXPECT_EQ(c.prompt, expected);
  const tokenizer::Tokenizer plain = TestTokenizer();
  try {
    Parse(R"({"model": "deepseek-chat", "prompt": "a", "suffix": "b"})", plain);
    FAIL() << "FIM without FIM tokens must be refused";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_NE(std::string(e.what()).find("fill-in-the-middle is unavailable"), std::string::npos);
  }
}

TEST(OpenAICompletionsTest, BadRequests) {
  const tokenizer::Tokenizer tok = TestTokenizer();
  for (const char* body : {R"({"prompt": "a"})", R"({"model": "deepseek-chat"})",
                           R"({"model": "gpt-4", "prompt": "a"})",
                           R"({"model": "deepseek-chat", "prompt": 5})",
                           R"({"model": "deepseek-chat", "prompt": ["a", "b"]})",
                           R"({"model": "deepseek-chat", "prompt": [1, 99999]})",
                           R"({"model": "deepseek-chat", "prompt": "a", "n": 2})",
                           R"({"model": "deepseek-chat", "prompt": "a", "logprobs": 21})",
                           R"({"model": "deepseek-chat", "prompt": "a", "echo": true, "logprobs": 1})",
                           R"({"model": "deepseek-chat", "prompt": "a", "max_tokens": "5"})"}) {
    EXPECT_EQ(ApiStatus(body, tok), 400) << body;
  }
}

TEST(OpenAICompletionsTest, Shapes) {
  OpenAICompletionWriter w("id-1", "deepseek-chat", 17, true, "Echo: ", 0.1);
  Json first = w.FirstChunk();
  EXPECT_EQ(first["object"], "text_completion");
  EXPECT_EQ(first["choices"][0]["text"], "Echo: ");
  EXPECT_TRUE(first["usage"].is_null());
  tokenizer::ParserDelta d;
  d.content = "hi";
  std::vector<TokenLogprobInfo> lp = {{.token = "h", .bytes = "h", .logprob = -0.5f, .top = {{"h", "h", -0.5f}}},
                                      {.token = "i", .bytes = "i", .logprob = -1.0f}};
  std::vector<Json> chunks = w.DeltaChunks(d, lp);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0]["choices"][0]["text"], "hi");
  EXPECT_EQ(chunks[0]["choices"][0]["logprobs"]["tokens"], Json({"h", "i"}));
  EXPECT_EQ(chunks[0]["choices"][0]["logprobs"]["text_offset"], Json({0, 1}));
  EXPECT_EQ(chunks[0]["choices"][0]["logprobs"]["top_logprobs"][0], Json({{"h", -0.5}}));
  GenerationOutcome o;
  o.finish = FinishReason::kLength;
  o.usage = {.prompt_tokens = 10, .completion_tokens = 2};
  Json last = w.FinalChunk(o);
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(last["usage"]["total_tokens"], 12);
  Json whole = w.Completion("hi", o, &lp);
  EXPECT_EQ(whole["choices"][0]["text"], "Echo: hi");
  EXPECT_EQ(whole["choices"][0]["logprobs"]["text_offset"], Json({6, 7}));  // after the echo
  EXPECT_GT(whole["usage"]["cost"].get<double>(), 0);
}

TEST(ArgumentFragmentsTest, PiecesJoinBackAndKeepCharacters) {
  const std::string json = R"({"city": "Paris — a very long city name indeed", "days": [1, 2]})";
  std::vector<std::string> pieces = ArgumentFragments(json);
  std::string joined;
  for (const std::string& p : pieces) {
    joined += p;
    EXPECT_LE(p.size(), 18u);  // 16 bytes, plus a last UTF-8 character
    EXPECT_NE(static_cast<unsigned char>(p[0]) & 0xC0, 0x80) << "split inside a character";
  }
  EXPECT_EQ(joined, json);
  EXPECT_EQ(pieces[0], "{");
  EXPECT_EQ(pieces[1], "\"");
  EXPECT_EQ(pieces[2], "city");
  EXPECT_TRUE(ArgumentFragments("").empty());
}

}  // namespace
}  // namespace dsv4::server
