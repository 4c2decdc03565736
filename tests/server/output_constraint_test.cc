// Constrained decoding pieces: the JSON prefix checker, the DSML tool-call grammar (every
// output it lets through parses into a well-formed call of an allowed tool, by a random
// walk over the bytes it allows), and the token-level OutputConstraint over a tokenizer.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "server/dsml_call_grammar.h"
#include "server/json_prefix.h"
#include "server/output_constraint.h"
#include "tokenizer/output_parser.h"
#include "test_tokenizer.h"

namespace dsv4::server {
namespace {

using Json = nlohmann::ordered_json;

// How many bytes of `text` the checker takes before refusing one.
size_t Accepted(JsonPrefix j, const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (!j.Feed(text[i])) return i;
  }
  return text.size();
}

TEST(JsonPrefix, AcceptsValidJsonAndCompletes) {
  for (const std::string doc : {R"({})", R"({"a": [1, -2.5e+3, true, false, null, "x\"\u00e9"]})",
                                R"({ "k" : { "n" : [ [], {} ] } })", R"({"s":"caf\u00E9 ü"})"}) {
    JsonPrefix j(true);
    EXPECT_EQ(Accepted(j, doc), doc.size()) << doc;
    for (char c : doc) ASSERT_TRUE(j.Feed(c));
    EXPECT_TRUE(j.Complete()) << doc;
    EXPECT_FALSE(j.Feed(' ')) << "nothing after the value";
  }
}

TEST(JsonPrefix, RefusesTheFirstBadByte) {
  EXPECT_EQ(Accepted(JsonPrefix(true), " {}"), 0u);      // object mode starts at '{'
  EXPECT_EQ(Accepted(JsonPrefix(true), "[1]"), 0u);      // and only objects
  EXPECT_EQ(Accepted(JsonPrefix(), "[1]"), 3u);          // any value otherwise
  EXPECT_EQ(Accepted(JsonPrefix(true), "{a"), 1u);       // keys are strings
  EXPECT_EQ(Accepted(JsonPrefix(true), "{\"a\" 1"), 5u);  // the colon is missing
  EXPECT_EQ(Accepted(JsonPrefix(true), "{\"a\":01"), 6u);  // no leading zeros
  EXPECT_EQ(Accepted(JsonPrefix(true), "{\"a\":[1,]"), 8u);  // no trailing commas
  EXPECT_EQ(Accepted(JsonPrefix(true), "{\"a\":tru "), 8u);
  EXPECT_EQ(Accepted(JsonPrefix(true), "{\"a\":\"\\x\"}"), 7u);  // bad escape
  EXPECT_EQ(Accepted(JsonPrefix(true), "{\"a\":\"\x01\"}"), 6u);  // raw control character
  EXPECT_EQ(Accepted(JsonPrefix(true), "{\"a\":1]"), 6u);        // mismatched bracket
  EXPECT_EQ(Accepted(JsonPrefix(true), "{" + std::string(100, ' ')), 65u);  // whitespace is capped
}

TEST(JsonPrefix, TopLevelNumberCanEnd) {
  JsonPrefix j;
  for (char c : std::string("-12.5")) ASSERT_TRUE(j.Feed(c));
  EXPECT_TRUE(j.CanEnd());
  EXPECT_FALSE(j.Complete());
  EXPECT_FALSE(j.Feed('<'));
  JsonPrefix k;
  for (char c : std::string("1.")) ASSERT_TRUE(k.Feed(c));
  EXPECT_FALSE(k.CanEnd());
}

const std::string kDsml = "｜DSML｜";

Json WeatherTools() {
  return Json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
      "properties": {"city": {"type": "string", "maxLength": 12},
                     "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                     "days": {"type": "integer"},
                     "hourly": {"type": "boolean"}},
      "required": ["city", "unit"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object",
      "properties": {"zone": {"type": "string", "maxLength": 5}}}}},
    {"type": "function", "function": {"name": "ping"}}
  ])");
}

DsmlCallGrammar Grammar(const std::vector<std::string>& names, bool multiple) {
  return DsmlCallGrammar(
      std::make_shared<const std::vector<DsmlTool>>(DsmlToolsFromOpenAI(WeatherTools(), names)),
      multiple);
}

bool FeedAll(DsmlCallGrammar* g, const std::string& text) {
  for (char c : text) {
    if (!g->Feed(c)) return false;
  }
  return true;
}

TEST(DsmlCallGrammar, AcceptsTheReferenceRendering) {
  DsmlCallGrammar g = Grammar({}, true);
  const std::string text =
      "\n\n<" + kDsml + "tool_calls>\n<" + kDsml + "invoke name=\"get_weather\">\n<" + kDsml +
      "parameter name=\"city\" string=\"true\">Paris</" + kDsml + "parameter>\n<" + kDsml +
      "parameter name=\"unit\" string=\"true\">celsius</" + kDsml + "parameter>\n<" + kDsml +
      "parameter name=\"days\" string=\"false\">3</" + kDsml + "parameter>\n</" + kDsml +
      "invoke>\n<" + kDsml + "invoke name=\"ping\">\n\n</" + kDsml + "invoke>\n</" + kDsml +
      "tool_calls>";
  ASSERT_TRUE(FeedAll(&g, text));
  EXPECT_TRUE(g.Complete());
}

TEST(DsmlCallGrammar, RefusesWhatTheSchemaForbids) {
  const std::string head = "\n\n<" + kDsml + "tool_calls>\n<" + kDsml + "invoke name=\"";
  DsmlCallGrammar g = Grammar({"get_time"}, false);
  EXPECT_FALSE(FeedAll(&g, head + "get_weather"));  // not the named tool
  g = Grammar({}, true);
  ASSERT_TRUE(FeedAll(&g, head + "get_weather\">\n"));
  DsmlCallGrammar h = g;
  EXPECT_FALSE(FeedAll(&h, "</" + kDsml + "invoke>"));  // city and unit are required
  h = g;
  EXPECT_FALSE(FeedAll(&h, "<" + kDsml + "parameter name=\"city\" string=\"false"));  // a string
  h = g;
  EXPECT_FALSE(FeedAll(&h, "<" + kDsml + "parameter name=\"country\""));  // not a property
  h = g;
  EXPECT_FALSE(FeedAll(&h, "<" + kDsml + "parameter name=\"unit\" string=\"true\">kelvin"));
  h = g;
  EXPECT_FALSE(FeedAll(&h, "<" + kDsml + "parameter name=\"city\" string=\"true\">" +
                               std::string(13, 'x')));  // maxLength 12
  h = g;
  EXPECT_FALSE(FeedAll(&h, "<" + kDsml + "parameter name=\"days\" string=\"false\">1 "));  // JSON
}

// Random walks over the bytes the grammar allows always end in text that the output
// parser turns into well-formed calls of allowed tools with schema-valid arguments.
TEST(DsmlCallGrammar, RandomWalksParseIntoValidCalls) {
  std::string alphabet = "\n\xEF\xBD\x9C";  // newline, the bytes of '｜', printable ASCII
  for (char c = ' '; c <= '~'; ++c) alphabet += c;
  std::mt19937 rng(7);
  for (int walk = 0; walk < 200; ++walk) {
    const bool named = walk % 2 == 1;
    DsmlCallGrammar g = Grammar(named ? std::vector<std::string>{"get_weather"}
                                      : std::vector<std::string>{}, !named);
    std::string text;
    while (!g.Complete() && text.size() < 20000) {
      std::vector<char> ok;
      for (char c : alphabet) {
        DsmlCallGrammar copy = g;
        if (copy.Feed(c)) ok.push_back(c);
      }
      ASSERT_FALSE(ok.empty()) << "dead end after: " << text;
      const char c = ok[rng() % ok.size()];
      ASSERT_TRUE(g.Feed(c));
      text += c;
    }
    ASSERT_TRUE(g.Complete()) << text;
    tokenizer::OutputParserOptions o;
    for (const auto& t : WeatherTools()) {
      if (t["function"].contains("parameters")) {
        o.tool_schemas[t["function"]["name"]] = t["function"]["parameters"];
      }
    }
    tokenizer::OutputParser parser(o);
    parser.Push(text);
    parser.Finish();
    const auto& out = parser.result();
    ASSERT_FALSE(out.tool_calls.empty()) << text;
    EXPECT_TRUE(out.content.empty()) << text;
    if (named) {
      EXPECT_EQ(out.tool_calls.size(), 1u);
    }
    for (const auto& call : out.tool_calls) {
      if (named) {
        EXPECT_EQ(call.name, "get_weather");
      }
      const Json args = Json::parse(call.arguments, nullptr, false);
      ASSERT_TRUE(args.is_object()) << call.arguments << "\nfrom: " << text;
      if (call.name == "get_weather") {
        ASSERT_TRUE(args.contains("city") && args["city"].is_string()) << text;
        size_t chars = 0;  // maxLength counts characters
        for (unsigned char b : args["city"].get<std::string>()) chars += (b & 0xC0) != 0x80;
        EXPECT_LE(chars, 12u);
        ASSERT_TRUE(args.contains("unit")) << text;
        EXPECT_TRUE(args["unit"] == "celsius" || args["unit"] == "fahrenheit");
        if (args.contains("hourly")) {
          EXPECT_TRUE(args["hourly"].is_boolean());
        }
      } else if (call.name == "ping") {
        EXPECT_TRUE(args.empty());
      } else {
        EXPECT_EQ(call.name, "get_time");
      }
    }
  }
}

TEST(OutputConstraint, JsonObjectAfterReasoning) {
  const tokenizer::Tokenizer tok = TestTokenizer();
  auto c = OutputConstraint::JsonObject(tok, /*starts_in_reasoning=*/true);
  const int32_t eos = *tok.TokenId("<｜end▁of▁sentence｜>");
  const int32_t think_close = *tok.TokenId("</think>");
  const int32_t brace = *tok.TokenId("{");
  const int32_t user = *tok.TokenId("<｜User｜>");
  EXPECT_FALSE(c->Allows(eos));  // the turn cannot end while reasoning
  EXPECT_TRUE(c->Allows(brace));  // reasoning is free
  EXPECT_TRUE(c->Allows(user));
  c->Accept(*tok.TokenId("h"));
  c->Accept(think_close);
  EXPECT_FALSE(c->Allows(*tok.TokenId(" ")));  // the answer starts at '{'
  EXPECT_FALSE(c->Allows(eos));
  EXPECT_FALSE(c->Allows(user));  // no control tokens in the answer
  EXPECT_TRUE(c->Allows(brace));
  for (char ch : std::string("{\"a\":1}")) {
    const int32_t t = *tok.TokenId(std::string(1, ch));
    ASSERT_TRUE(c->Allows(t)) << ch;
    EXPECT_FALSE(c->Complete());
    c->Accept(t);
  }
  EXPECT_TRUE(c->Complete());
}

TEST(OutputConstraint, ReasoningMustCloseWhenItsBudgetIsSpent) {
  const tokenizer::Tokenizer tok = TestTokenizer();
  auto c = OutputConstraint::JsonObject(tok, true, /*reasoning_budget=*/2);
  const int32_t h = *tok.TokenId("h"), lt = *tok.TokenId("<");
  c->Accept(h);
  c->Accept(h);
  EXPECT_FALSE(c->Allows(h));  // budget spent: only the closing tag
  EXPECT_TRUE(c->Allows(*tok.TokenId("</think>")));
  EXPECT_TRUE(c->Allows(lt));  // "</think>" spelled out byte by byte also closes it
  c->Accept(lt);
  EXPECT_FALSE(c->Allows(h));
  ASSERT_TRUE(c->FeedText("/think>"));
  EXPECT_TRUE(c->Allows(*tok.TokenId("{")));
}

TEST(OutputConstraint, ToolCallsAllowTheDsmlMarkerToken) {
  const tokenizer::Tokenizer tok = TestTokenizer();
  auto c = OutputConstraint::ToolCalls(tok, false, DsmlToolsFromOpenAI(WeatherTools(), {"ping"}),
                                       false);
  ASSERT_TRUE(c->FeedText("\n\n<"));
  EXPECT_TRUE(c->Allows(*tok.TokenId("｜DSML｜")));
  EXPECT_FALSE(c->Allows(*tok.TokenId("</think>")));
  c->Accept(*tok.TokenId("｜DSML｜"));
  ASSERT_TRUE(c->FeedText("tool_calls>\n<｜DSML｜invoke name=\"ping\">\n\n</｜DSML｜invoke>"));
  EXPECT_FALSE(c->AcceptsText("\n<｜DSML｜invoke"));  // a named tool is called once
  ASSERT_TRUE(c->FeedText("\n</｜DSML｜tool_calls>"));
  EXPECT_TRUE(c->Complete());
}

}  // namespace
}  // namespace dsv4::server
