// dsv4 run end to end: token ids without a tokenizer (scripts/run.sh's call), text with
// one, the chat template, and clear errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "engine_test_util.h"

namespace {

struct Output {
  int status = 0;
  std::string out;
};

Output Dsv4(const std::string& args) {
  const std::string cmd = std::string("cd ") + DSV4_SOURCE_DIR + " && " + DSV4_BINARY + " " +
                          args + " 2>&1";
  Output o;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) o.out.append(buf, n);
  o.status = pclose(p);
  return o;
}

TEST(RunCliTest, TokenIdsWithoutATokenizer) {
  Output o = Dsv4("run --model models/tiny-random --prompt-tokens 0,5,17,42 --max-tokens 8 "
                 "--temperature 0");
  ASSERT_EQ(o.status, 0) << o.out;
  EXPECT_NE(o.out.find("printing token ids"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("generated 8 tokens"), std::string::npos) << o.out;
  Output text = Dsv4("run --model models/tiny-random -p hello");
  EXPECT_NE(text.status, 0);
  EXPECT_NE(text.out.find("needs a tokenizer"), std::string::npos) << text.out;
}

TEST(RunCliTest, TextAndChatWithATokenizer) {
  const std::string tok = dsv4::testing::WriteTinyTokenizer(
      (std::filesystem::temp_directory_path() / "dsv4_run_cli_tokenizer.json").string());
  // The random model: a trained one may stop before 5 tokens.
  const std::string run = "run --model models/tiny-random --tokenizer " + tok;
  Output o = Dsv4(run + " -p hello -n 5 --seed 1");
  ASSERT_EQ(o.status, 0) << o.out;
  EXPECT_NE(o.out.find("prompt 6 tokens, generated 5 tokens"), std::string::npos) << o.out;
  Output chat = Dsv4(run + " -p hello -n 5 --chat --no-think --seed 1");
  ASSERT_EQ(chat.status, 0) << chat.out;
  EXPECT_NE(chat.out.find("generated 5 tokens"), std::string::npos) << chat.out;
  Output same = Dsv4(run + " -p hello -n 5 --chat --no-think --seed 1");
  EXPECT_EQ(same.out.substr(0, same.out.find("in ")), chat.out.substr(0, chat.out.find("in ")));
}

}  // namespace
