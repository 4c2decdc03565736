// Per-key concurrency slots: refused with 429 at the limit, per key, freed on release.
#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/key_limiter.h"

namespace dsv4::server {
namespace {

TEST(KeyLimiterTest, LimitsEachKeySeparately) {
  KeyLimiter limiter(2);
  auto a1 = limiter.Acquire("a");
  auto a2 = limiter.Acquire("a");
  try {
    limiter.Acquire("a");
    FAIL() << "a third slot for key a";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 429);
  }
  auto b1 = limiter.Acquire("b");
  EXPECT_EQ(limiter.in_flight("a"), 2);
  EXPECT_EQ(limiter.in_flight("b"), 1);
  a1.reset();
  EXPECT_EQ(limiter.in_flight("a"), 1);
  EXPECT_NE(limiter.Acquire("a"), nullptr);
  EXPECT_EQ(limiter.in_flight("a"), 1);  // the temporary slot was released again
}

TEST(KeyLimiterTest, ZeroMeansUnlimited) {
  KeyLimiter limiter(0);
  std::vector<std::unique_ptr<KeyLimiter::Slot>> slots;
  for (int i = 0; i < 100; ++i) slots.push_back(limiter.Acquire(""));
  EXPECT_EQ(limiter.in_flight(""), 100);
}

}  // namespace
}  // namespace dsv4::server
