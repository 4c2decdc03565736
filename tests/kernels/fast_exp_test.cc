// FastExp (kernels/fast_exp.h), the fast mode's exp: its accuracy and its range ends.
// (Its vector versions are checked bit for bit through the kernels that use them:
// softmax_block_test, swiglu_test.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kernels/fast_exp.h"

namespace dsv4::kernels {
namespace {

// Units in the last place between a and the double b.
double UlpError(float a, double b) {
  const double ulp = std::ldexp(1.0, std::ilogb(float(b)) - 23);
  return std::fabs(double(a) - b) / ulp;
}

TEST(FastExpTest, WithinOneUlpOfExpOverItsRange) {
  double worst = 0.0;
  for (float x = -86.0f; x <= 88.0f; x = std::nextafter(x, 100.0f) + 0.0007f) {
    const double err = UlpError(FastExp(x), std::exp(double(x)));
    worst = std::max(worst, err);
    ASSERT_LE(err, 1.0) << "x " << x;
  }
  EXPECT_GT(worst, 0.0);  // (the polynomial is not exact: the check is live)
  EXPECT_EQ(FastExp(0.0f), 1.0f);
  EXPECT_EQ(FastExp(-0.0f), 1.0f);
}

TEST(FastExpTest, RangeEnds) {
  EXPECT_EQ(FastExp(-INFINITY), 0.0f);
  EXPECT_EQ(FastExp(-86.01f), 0.0f);  // below 2^-124: 0, never subnormal
  EXPECT_TRUE(std::isnormal(FastExp(-86.0f)));
  EXPECT_TRUE(std::isfinite(FastExp(88.0f)));
  EXPECT_EQ(FastExp(88.01f), INFINITY);
  EXPECT_EQ(FastExp(INFINITY), INFINITY);
  EXPECT_TRUE(std::isnan(FastExp(NAN)));
}

}  // namespace
}  // namespace dsv4::kernels
