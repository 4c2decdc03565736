// Agreement with DeepSeek's published tokenizer: our ids must equal the ids of the npm
// package's JavaScript tokenizer (run with node) on every corpus record, on random
// multi-script text and on long runs, for the V3 file and the derived V4 file.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"
#include "tokenizer/utf8.h"

namespace dsv4::tokenizer {
namespace {

using testing::ReferenceCase;

std::vector<std::string> CorpusFiles() {
  std::vector<std::string> files;
  for (const auto& e :
       std::filesystem::directory_iterator(testing::SourceDir() + "/tests/tokenizer/corpus")) {
    const std::string p = e.path().string();
    if (p.ends_with(".txt") || p.ends_with(".json")) files.push_back(p);
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string Show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + " ";
  return s;
}

// Compares every case, reporting the first few mismatches in full.
void ExpectAgreement(const Tokenizer& tok, const std::vector<ReferenceCase>& cases) {
  ASSERT_FALSE(cases.empty());
  int failures = 0;
  size_t tokens = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const ReferenceCase& c = cases[i];
    const std::vector<int32_t> ids = tok.Encode(c.bytes);
    tokens += ids.size();
    if (ids != c.ids && ++failures <= 5) {
      ADD_FAILURE() << "case " << i << " text: [" << c.bytes << "]\n  ours: " << Show(ids)
                    << "\n  reference: " << Show(c.ids);
    }
    EXPECT_EQ(tok.Decode(ids), c.bytes) << "round trip, case " << i;
  }
  EXPECT_EQ(failures, 0) << "of " << cases.size() << " cases";
  EXPECT_GT(tokens, 0u);
}

std::vector<std::string> RandomTexts() {
  std::vector<std::string> texts;
  for (uint64_t seed = 1; seed <= 1500; ++seed)
    texts.push_back(testing::RandomMixedText(seed, seed % 97));
  // Long pieces take the heap-based BPE path (> 48 bytes) and long whitespace runs the
  // \s+(?!\S) look-ahead.
  for (int n : {47, 48, 49, 64, 65, 100, 300, 1000}) {
    texts.push_back(std::string(n, ' ') + "x");
    texts.push_back("x" + std::string(n, ' '));
    texts.push_back(std::string(n, '\n') + "y" + std::string(n, '\t'));
    texts.push_back(std::string(n, 'a'));
    std::string mixed;
    for (int i = 0; i < n; ++i)
      mixed += "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[(i * 7919) % 52];
    texts.push_back(mixed);
    std::string digits;
    for (int i = 0; i < n; ++i) digits += static_cast<char>('0' + (i * 31 % 10));
    texts.push_back(digits);
    std::string han;
    for (int i = 0; i < n; ++i) han += "的一是不了人我在有他这为之大来以个中上们";  // 20 chars
    texts.push_back(han.substr(0, static_cast<size_t>(n) * 3));
    texts.push_back(std::string(n, '=') + std::string(n, '-') + "\n");
  }
  texts.push_back(testing::RandomMixedText(424242, 20000));
  return texts;
}

TEST(TokenizerReferenceTest, CorpusMatchesJavaScriptV3) {
  ExpectAgreement(testing::V3(), testing::RunReference(CorpusFiles()));
}

TEST(TokenizerReferenceTest, CorpusMatchesJavaScriptV4) {
  ExpectAgreement(testing::V4(), testing::RunReference(CorpusFiles(), testing::V4TokenizerPath()));
}

TEST(TokenizerReferenceTest, RandomMultiScriptTextMatchesJavaScript) {
  const std::string file = testing::WriteJsonStrings(RandomTexts(), "random_texts.json");
  ExpectAgreement(testing::V4(), testing::RunReference({file}, testing::V4TokenizerPath()));
}

// Every code point of every plane, in contexts that exercise each split rule: catches
// Unicode-version differences between PCRE2's tables and the reference's (new letters,
// emoji) and \s definitions (U+0085, U+180E, U+FEFF).
TEST(TokenizerReferenceTest, EveryCodePointMatchesJavaScript) {
  std::vector<std::string> texts;
  std::string block;
  int in_block = 0;
  for (uint32_t cp = 0x20; cp < 0x110000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    if (cp >= 0x32400 && cp < 0xE0000) cp = 0xE0000;  // unassigned planes 4-13
    std::string c;
    AppendUtf8(cp, &c);
    block += "a" + c + " " + c + c + "1" + c + ". ";
    if (++in_block == 256) {
      texts.push_back(block);
      block.clear();
      in_block = 0;
    }
  }
  texts.push_back(block);
  const std::string file = testing::WriteJsonStrings(texts, "every_code_point.json");
  ExpectAgreement(testing::V4(), testing::RunReference({file}, testing::V4TokenizerPath()));
}

}  // namespace
}  // namespace dsv4::tokenizer
