// Unit tests of the tokenizer on DeepSeek's real files: structure of the loaded file,
// the spec's published id vectors, byte-exact round trips, random-byte fuzzing, the
// UTF-8 sanitiser and the incremental decoder.
#include <gtest/gtest.h>

#include <random>

#include "test_util.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/incremental_decoder.h"
#include "tokenizer/unicode_classes.h"
#include "tokenizer/utf8.h"

namespace dsv4::tokenizer {
namespace {

using testing::V3;
using testing::V4;

TEST(ByteLevelTest, AlphabetIsABijection) {
  std::set<uint32_t> seen;
  for (int b = 0; b < 256; ++b) {
    const uint32_t cp = ByteToCodePoint(static_cast<uint8_t>(b));
    EXPECT_TRUE(seen.insert(cp).second);
    const std::string one(1, static_cast<char>(b));
    EXPECT_EQ(ByteLevelToBytes(BytesToByteLevel(one)).value(), one);
  }
  EXPECT_EQ(ByteToCodePoint(' '), 0x120u);   // "Ġ"
  EXPECT_EQ(ByteToCodePoint('\n'), 0x10Au);  // "Ċ"
  EXPECT_EQ(ByteToCodePoint('A'), static_cast<uint32_t>('A'));
  EXPECT_FALSE(ByteLevelToBytes("\xE4\xBD\xA0").has_value());  // 你 is not in the alphabet
}

TEST(TokenizerLoadTest, V3FileHasTheSpecStructure) {
  const Tokenizer& t = V3();
  EXPECT_EQ(t.vocab_size(), 128815);
  EXPECT_EQ(t.added_tokens().size(), 818u);
  EXPECT_EQ(t.num_merges(), 127741u);
  // The three splits of chat-format §1.1, read from the file.
  ASSERT_EQ(t.split_patterns().size(), 3u);
  EXPECT_EQ(t.split_patterns()[0], "\\p{N}{1,3}");
  EXPECT_EQ(t.split_patterns()[1], "[一-龥぀-ゟ゠-ヿ]+");
  EXPECT_EQ(t.split_patterns()[2],
            "[!\"#$%&'()*+,\\-./"
            ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
            " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+");
}

TEST(TokenizerLoadTest, V4FileHasTheV4AddedTokens) {
  const Tokenizer& t = V4();
  EXPECT_EQ(t.vocab_size(), 129280);
  EXPECT_EQ(t.added_tokens().size(), 1283u);
  EXPECT_EQ(t.TokenId("<｜begin▁of▁sentence｜>"), 0);
  EXPECT_EQ(t.TokenId("<｜end▁of▁sentence｜>"), 1);
  EXPECT_EQ(t.TokenId("<｜User｜>"), 128803);
  EXPECT_EQ(t.TokenId("<｜Assistant｜>"), 128804);
  EXPECT_EQ(t.TokenId("<think>"), 128821);
  EXPECT_EQ(t.TokenId("</think>"), 128822);
  EXPECT_EQ(t.TokenId("｜DSML｜"), 128825);
  EXPECT_EQ(t.TokenId("<｜latest_reminder｜>"), 128828);
  EXPECT_EQ(t.TokenId("<｜action｜>"), 128829);
  EXPECT_EQ(t.TokenId("<｜read_url｜>"), 128845);
  EXPECT_EQ(t.TokenId("<|place_holder_mm_span_0021|>"), 128847);
  EXPECT_EQ(t.TokenId("<|place_holder_mm_span_0435|>"), 129261);
  EXPECT_EQ(t.TokenId("<｜image｜>"), 129279);
  for (int32_t id = 0; id < t.vocab_size(); ++id) ASSERT_TRUE(t.IsKnown(id)) << id;
}

TEST(TokenizerLoadTest, RejectsBadFiles) {
  EXPECT_FALSE(Tokenizer::FromJson("not json").ok());
  EXPECT_FALSE(Tokenizer::FromJson("{}").ok());
  EXPECT_FALSE(Tokenizer::FromFile("/nonexistent/tokenizer.json").ok());
  EXPECT_FALSE(Tokenizer::FromJson(R"({"model":{"type":"Unigram","vocab":[]}})").ok());
}

// chat-format §1.3 evidence 2: the V3 tokenizer reproduces a V4 test vector.
TEST(TokenizerVectorsTest, MixedScriptVector) {
  const std::vector<int32_t> expected = {19923, 3,    223,   5464, 5008, 1175,  19,    940, 223,
                                         19,    438,  223,   20,   6113, 257,   76589, 131, 100,
                                         76032, 1628, 76589, 131,  108,  76589, 131,   98};
  EXPECT_EQ(V3().Encode("Hello! 毕老师！1 + 1 = 2 ĠÑĤÐ²ÑĬÑĢ"), expected);
  EXPECT_EQ(V4().Encode("Hello! 毕老师！1 + 1 = 2 ĠÑĤÐ²ÑĬÑĢ"), expected);
}

// chat-format §1.3 evidence 1 and 4: V4 added tokens are mandatory.
TEST(TokenizerVectorsTest, V4ChatVector) {
  const std::string text =
      "<｜User｜>你好<｜Assistant｜><think>推理</think>答案<｜end▁of▁sentence｜>";
  EXPECT_EQ(V4().Encode(text),
            (std::vector<int32_t>{128803, 30594, 128804, 128821, 36101, 128822, 7624, 1}));
  EXPECT_EQ(V3().Encode("<think>"), (std::vector<int32_t>{30, 37947, 32}));
  EXPECT_EQ(V3().Encode("｜DSML｜").size(), 4u);
}

// chat-format §2.11 E2 token ids.
TEST(TokenizerVectorsTest, PromptVector) {
  const std::string text =
      "<｜begin▁of▁sentence｜>You are a helpful assistant.<｜User｜>What is "
      "2+2?<｜Assistant｜><think>";
  EXPECT_EQ(V4().Encode(text),
            (std::vector<int32_t>{0, 3476, 477, 260, 11502, 22896, 16, 128803, 3085, 344, 223, 20,
                                  13, 20, 33, 128804, 128821}));
}

std::vector<std::string> Pieces(const Tokenizer& t, const std::string& text) {
  std::vector<std::string> out;
  for (int32_t id : t.Encode(text)) out.emplace_back(t.TokenBytes(id));
  return out;
}

// chat-format §1.4: how the DSML markers tokenize.
TEST(TokenizerVectorsTest, MarkerTokenization) {
  const Tokenizer& t = V4();
  const std::vector<int32_t> open = t.Encode("<｜DSML｜tool_calls>\n");
  ASSERT_EQ(open.size(), 6u);
  EXPECT_EQ(open[0], 30);
  EXPECT_EQ(open[1], 128825);
  EXPECT_EQ(Pieces(t, "<｜DSML｜tool_calls>\n"),
            (std::vector<std::string>{"<", "｜DSML｜", "tool", "_c", "alls", ">\n"}));
  const std::vector<int32_t> close = t.Encode("</｜DSML｜parameter>");
  EXPECT_EQ(close[0], 1718);
  EXPECT_EQ(close[1], 128825);
  EXPECT_EQ(Pieces(t, "</｜DSML｜parameter>"),
            (std::vector<std::string>{"</", "｜DSML｜", "parameter", ">"}));
  EXPECT_EQ(Pieces(t, "Let me check.\n\n"),
            (std::vector<std::string>{"Let", " me", " check", ".\n\n"}));
  EXPECT_EQ(Pieces(t, "x 2"), (std::vector<std::string>{"x", " ", "2"}));
}

TEST(TokenizerTest, AddedTokenMatchingCanBeSwitchedOff) {
  const Tokenizer& t = V4();
  const std::string text = "say <｜User｜> and </think> literally";
  const std::vector<int32_t> matched = t.Encode(text, true);
  const std::vector<int32_t> literal = t.Encode(text, false);
  EXPECT_NE(std::find(matched.begin(), matched.end(), 128803), matched.end());
  for (int32_t id : literal) EXPECT_FALSE(t.IsAddedToken(id)) << id;
  EXPECT_EQ(t.Decode(literal), text);
  EXPECT_EQ(t.Decode(matched), text);
}

TEST(TokenizerTest, LeftmostLongestAddedTokens) {
  // "<｜place▁holder▁no▁1｜>" vs the longer "<｜place▁holder▁no▁10｜>" (both exist).
  const Tokenizer& t = V4();
  EXPECT_EQ(t.Encode("<｜place▁holder▁no▁10｜>"), (std::vector<int32_t>{128010}));
  EXPECT_EQ(t.Encode("<｜place▁holder▁no▁1｜>"), (std::vector<int32_t>{128001}));
}

TEST(TokenizerTest, InvalidUtf8RoundTripsThroughByteTokens) {
  const Tokenizer& t = V4();
  for (const std::string& s :
       {std::string("\xff"), std::string("ab\xc3(cd"), std::string("\xe4\xbd"),
        std::string("x\xed\xa0\x80y"), std::string("\xf0\x9f\x98"),
        std::string("  \xfe  \x80\x80 z"), std::string("\xc0\xaf")}) {
    const std::vector<int32_t> ids = t.Encode(s);
    EXPECT_EQ(t.Decode(ids), s);
    EXPECT_TRUE(IsValidUtf8(t.DecodeText(ids)));
  }
}

TEST(TokenizerFuzzTest, RandomBytesNeverLoseBytes) {
  const Tokenizer& t = V4();
  std::mt19937_64 rng(7);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s(rng() % 200, '\0');
    const int mode = iter % 3;
    for (char& c : s) {
      const uint64_t r = rng();
      // Mostly random bytes; sometimes biased to ASCII / UTF-8 lead+continuation bytes.
      c = static_cast<char>(mode == 0   ? r
                            : mode == 1 ? (r % 3 ? 0x20 + r % 0x60 : 0x80 + r % 0x80)
                                        : (r % 2 ? 0xE0 + r % 0x10 : 0x80 + r % 0x40));
    }
    const std::vector<int32_t> ids = t.Encode(s);
    ASSERT_EQ(t.Decode(ids), s) << "iteration " << iter;
    for (int32_t id : ids) ASSERT_TRUE(t.IsKnown(id));
    // Streaming decode of the same ids gives the whole-sequence lossy decode.
    IncrementalDecoder dec(t);
    std::string streamed;
    for (int32_t id : ids) {
      const std::string chunk = dec.Push(id);
      ASSERT_TRUE(IsValidUtf8(chunk));
      streamed += chunk;
    }
    streamed += dec.Finish();
    ASSERT_EQ(streamed, t.DecodeText(ids));
  }
}

TEST(TokenizerTest, RoundTripOnRandomText) {
  const Tokenizer& t = V4();
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const std::string s = testing::RandomMixedText(seed, 300);
    ASSERT_EQ(t.Decode(t.Encode(s)), s);
    ASSERT_EQ(t.DecodeText(t.Encode(s)), s);
  }
}

TEST(TokenizerTest, EncodeIsThreadSafe) {
  const Tokenizer& t = V4();
  const std::string text = testing::RandomMixedText(99, 5000);
  const std::vector<int32_t> expected = t.Encode(text);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 5; ++k) {
        if (t.Encode(text) != expected) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(UnicodeClassesTest, ExpansionKeepsEverythingElse) {
  EXPECT_EQ(ExpandUnicodeClasses("[A-Za-z]+|\\d|\\p{Han}|[\\]\\p{Lu}]"),
            "[A-Za-z]+|\\d|\\p{Han}|[\\]\\p{Lu}]");
  const std::string l = ExpandUnicodeClasses("\\p{L}");
  EXPECT_TRUE(l.starts_with("[\\p{L}") || l.starts_with("[\\x{41}")) << l.substr(0, 40);
  EXPECT_EQ(ExpandUnicodeClasses("\\s").substr(0, 9), "[\\x{9}-\\x");
  EXPECT_EQ(ExpandUnicodeClasses("(?!\\S)").substr(0, 5), "(?![^");
  EXPECT_EQ(ExpandUnicodeClasses("[^\\r\\n\\p{P}]").substr(0, 6), "[^\\r\\n");
  EXPECT_STRNE(PinnedUnicodeVersion(), "");
}

// --- UTF-8 sanitiser (the rule HF decode and JS TextDecoder use) ---

TEST(Utf8Test, MaximalSubpartReplacement) {
  // Unicode 3.9 table 3-8 style examples.
  EXPECT_EQ(SanitizeUtf8("a\x80"
                         "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(SanitizeUtf8("\xE1\x80\x41"),
            "\xEF\xBF\xBD"
            "A");  // truncated 3-byte seq
  EXPECT_EQ(SanitizeUtf8("\xF0\x80\x80\x41"),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
            "A");
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(SanitizeUtf8("\xF4\x90\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(SanitizeUtf8("\xF0\x9F\x98"), "\xEF\xBF\xBD");  // truncated at end
  EXPECT_EQ(SanitizeUtf8("ok \xF0\x9F\x98\x80"), "ok \xF0\x9F\x98\x80");
  EXPECT_TRUE(IsValidUtf8("héllo 你好 😀"));
  EXPECT_FALSE(IsValidUtf8("\xE4\xBD"));
}

TEST(Utf8Test, StreamingEqualsWholeForEverySplit) {
  std::mt19937_64 rng(3);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s(rng() % 24, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 3 == 0 ? rng() : 0x80 + rng() % 0x78);
    const std::string whole = SanitizeUtf8(s);
    Utf8Sanitizer st;
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
      const size_t n = 1 + rng() % 3;
      st.Push(std::string_view(s).substr(i, n), &out);
      i += n;
    }
    st.Finish(&out);
    ASSERT_EQ(out, whole);
    ASSERT_TRUE(IsValidUtf8(out));
  }
}

TEST(IncrementalDecoderTest, HoldsSplitCharactersUntilComplete) {
  const Tokenizer& t = V4();
  // "😀" is encoded by DeepSeek's BPE as byte tokens that split the character.
  const std::vector<int32_t> ids = t.Encode("a😀b");
  IncrementalDecoder dec(t);
  std::string out;
  for (int32_t id : ids) {
    const std::string chunk = dec.Push(id);
    EXPECT_TRUE(IsValidUtf8(chunk));
    EXPECT_EQ(chunk.find("\xEF\xBF\xBD"), std::string::npos);
    out += chunk;
  }
  out += dec.Finish();
  EXPECT_EQ(out, "a😀b");
  // Added tokens are rendered as text.
  IncrementalDecoder d2(t);
  EXPECT_EQ(d2.Push(128822), "</think>");
  EXPECT_EQ(d2.Push(1), "<｜end▁of▁sentence｜>");
}

TEST(IncrementalDecoderTest, InvalidBytesBecomeReplacementOnlyWhenCertain) {
  const Tokenizer& t = V4();
  const int32_t e4 = *t.TokenId("\xE4");  // lead byte of a 3-byte character
  const int32_t bd = *t.TokenId("\xBD");
  IncrementalDecoder dec(t);
  EXPECT_EQ(dec.Push(e4), "");  // may still become valid
  EXPECT_EQ(dec.Push(bd), "");
  EXPECT_EQ(dec.pending_bytes(), 2u);
  EXPECT_EQ(dec.Push(*t.TokenId("x")), "\xEF\xBF\xBDx");  // now it cannot
  EXPECT_EQ(dec.Push(e4), "");
  EXPECT_EQ(dec.Finish(), "\xEF\xBF\xBD");  // end of stream: held bytes are not lost
}

}  // namespace
}  // namespace dsv4::tokenizer
