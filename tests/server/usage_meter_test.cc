// Cost from the price table and the per-key totals that /metrics shows.
#include <gtest/gtest.h>

#include "server/usage_meter.h"

namespace dsv4::server {
namespace {

TEST(UsageMeterTest, PricesAndCost) {
  EXPECT_EQ(PricesFor("deepseek-v4-flash").input, 0.14);
  EXPECT_EQ(PricesFor("deepseek-chat").output, 0.28);
  EXPECT_EQ(PricesFor("deepseek-v4-pro").input, 1.70);
  EXPECT_EQ(PricesFor("claude-opus-4").output, 3.40);
  EXPECT_EQ(PricesFor("claude-sonnet-4").output, 0.28);
  GenerationUsage u{.prompt_tokens = 1'000'000, .cached_tokens = 500'000,
                    .completion_tokens = 1'000'000};
  // 0.5M misses * 0.14 + 0.5M hits * 0.014 + 1M out * 0.28
  EXPECT_NEAR(CostUsd(u, PricesFor("deepseek-v4-flash")), 0.07 + 0.007 + 0.28, 1e-12);
  EXPECT_NEAR(CostUsd(u, PricesFor("deepseek-v4-flash", 0.0)), 0.07 + 0.28, 1e-12);
}

TEST(UsageMeterTest, PerKeyTotalsWithoutTheKey) {
  UsageMeter meter;
  meter.Record("sk-secret-abcd", "deepseek-v4-flash", {.prompt_tokens = 10, .cached_tokens = 0,
                                                       .completion_tokens = 5});
  meter.Record("sk-secret-abcd", "deepseek-v4-flash", {.prompt_tokens = 10, .cached_tokens = 4,
                                                       .completion_tokens = 5});
  meter.Record("", "deepseek-v4-pro", {.prompt_tokens = 1, .cached_tokens = 0, .completion_tokens = 1});
  const std::string text = meter.Prometheus();
  EXPECT_NE(text.find("dsv4_key_requests_total{key=\"****abcd\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("dsv4_key_prompt_tokens_total{key=\"****abcd\"} 20\n"), std::string::npos);
  EXPECT_NE(text.find("dsv4_key_cached_tokens_total{key=\"****abcd\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("dsv4_key_requests_total{key=\"none\"} 1\n"), std::string::npos);
  EXPECT_EQ(text.find("secret"), std::string::npos);
}

}  // namespace
}  // namespace dsv4::server
