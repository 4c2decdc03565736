// Tests for the dtype helpers in core/dtype.h: the e4m3/e2m1/ue8m0 decoders, the RNE
// rounding operators (ties, subnormals, saturation) and the power-of-two block scales.
#include "core/dtype.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace dsv4 {
namespace {

float Pow2(int e) { return std::ldexp(1.0f, e); }

TEST(DTypeTest, ParseNameSizeRoundTrip) {
  for (DType d :
       {DType::kBF16, DType::kF32, DType::kF8E4M3, DType::kF8E8M0, DType::kI8, DType::kI64}) {
    DType parsed;
    ASSERT_TRUE(ParseDType(DTypeName(d), &parsed)) << DTypeName(d);
    EXPECT_EQ(parsed, d);
  }
  DType unused;
  EXPECT_FALSE(ParseDType("F16", &unused));
  EXPECT_EQ(DTypeSize(DType::kBF16), 2u);
  EXPECT_EQ(DTypeSize(DType::kF32), 4u);
  EXPECT_EQ(DTypeSize(DType::kF8E4M3), 1u);
  EXPECT_EQ(DTypeSize(DType::kI64), 8u);
}

TEST(E4m3Test, TableLandmarks) {
  EXPECT_EQ(E4m3ToFloat(0x00), 0.0f);
  EXPECT_TRUE(std::signbit(E4m3ToFloat(0x80)));  // -0
  EXPECT_EQ(E4m3ToFloat(0x80), 0.0f);
  EXPECT_EQ(E4m3ToFloat(0x01), Pow2(-9));      // min subnormal
  EXPECT_EQ(E4m3ToFloat(0x07), 7 * Pow2(-9));  // max subnormal
  EXPECT_EQ(E4m3ToFloat(0x08), Pow2(-6));      // min normal
  EXPECT_EQ(E4m3ToFloat(0x38), 1.0f);          // exponent 7 = bias
  EXPECT_EQ(E4m3ToFloat(0x3C), 1.5f);
  EXPECT_EQ(E4m3ToFloat(0x7E), 448.0f);  // max finite
  EXPECT_EQ(E4m3ToFloat(0xFE), -448.0f);
  EXPECT_EQ(E4m3ToFloat(0x81), -Pow2(-9));
  EXPECT_TRUE(std::isnan(E4m3ToFloat(0x7F)));
  EXPECT_TRUE(std::isnan(E4m3ToFloat(0xFF)));
}

TEST(E4m3Test, TableIsMonotoneAndSymmetric) {
  for (int c = 1; c < 0x7F; ++c) {
    EXPECT_LT(E4m3ToFloat(uint8_t(c - 1)), E4m3ToFloat(uint8_t(c))) << c;
    EXPECT_EQ(E4m3ToFloat(uint8_t(c | 0x80)), -E4m3ToFloat(uint8_t(c))) << c;
  }
}

TEST(E4m3Test, EncodeRoundTripsEveryCode) {
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7F) == 0x7F) continue;  // NaN
    EXPECT_EQ(FloatToE4m3(E4m3ToFloat(uint8_t(c))), c) << c;
    EXPECT_EQ(RoundE4m3(E4m3ToFloat(uint8_t(c))), E4m3ToFloat(uint8_t(c))) << c;
  }
}

TEST(E4m3Test, RoundNearestEvenTies) {
  EXPECT_EQ(RoundE4m3(1.0625f), 1.0f);   // between 1 (even) and 1.125
  EXPECT_EQ(RoundE4m3(1.1875f), 1.25f);  // between 1.125 and 1.25 (even)
  EXPECT_EQ(RoundE4m3(17.0f), 16.0f);    // spacing 2 in [16, 32)
  EXPECT_EQ(RoundE4m3(19.0f), 20.0f);
  EXPECT_EQ(RoundE4m3(0.5f + Pow2(-5)), 0.5f);       // 0.5 (even) vs 0.5625
  EXPECT_EQ(RoundE4m3(0.5625f + Pow2(-5)), 0.625f);  // 0.5625 vs 0.625 (even)
  EXPECT_EQ(RoundE4m3(-1.0625f), -1.0f);
  EXPECT_EQ(RoundE4m3(-19.0f), -20.0f);
  // Just off a tie goes to the nearer neighbour.
  EXPECT_EQ(RoundE4m3(std::nextafter(1.0625f, 2.0f)), 1.125f);
  EXPECT_EQ(RoundE4m3(std::nextafter(1.1875f, 0.0f)), 1.125f);
}

TEST(E4m3Test, RoundSubnormals) {
  EXPECT_EQ(RoundE4m3(3 * Pow2(-10)), Pow2(-8));      // 1.5 * 2^-9 -> 2 * 2^-9 (even)
  EXPECT_EQ(RoundE4m3(5 * Pow2(-10)), Pow2(-8));      // 2.5 * 2^-9 -> 2 * 2^-9 (even)
  EXPECT_EQ(RoundE4m3(Pow2(-10)), 0.0f);              // 0.5 * 2^-9 -> 0 (even)
  EXPECT_EQ(RoundE4m3(1.01f * Pow2(-10)), Pow2(-9));  // just above the tie
  EXPECT_EQ(RoundE4m3(Pow2(-12)), 0.0f);
  EXPECT_EQ(RoundE4m3(15 * Pow2(-10)), Pow2(-6));      // 7.5 * 2^-9 -> min normal (even)
  EXPECT_EQ(RoundE4m3(13 * Pow2(-10)), 6 * Pow2(-9));  // 6.5 * 2^-9 -> 6 * 2^-9 (even)
  EXPECT_TRUE(std::signbit(RoundE4m3(-Pow2(-12))));    // sign kept on underflow
}

TEST(E4m3Test, Saturates) {
  EXPECT_EQ(RoundE4m3(500.0f), 448.0f);
  EXPECT_EQ(RoundE4m3(464.0f), 448.0f);  // would-be tie with 480 (not finite in e4m3fn)
  EXPECT_EQ(RoundE4m3(1e30f), 448.0f);
  EXPECT_EQ(RoundE4m3(-500.0f), -448.0f);
  EXPECT_EQ(RoundE4m3(std::numeric_limits<float>::infinity()), 448.0f);
}

TEST(E2m1Test, TableAndEncode) {
  const float expected[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  for (int c = 0; c < 8; ++c) {
    EXPECT_EQ(E2m1ToFloat(uint8_t(c)), expected[c]);
    EXPECT_EQ(E2m1ToFloat(uint8_t(c | 8)), -expected[c]);
    EXPECT_EQ(E2m1ToFloat(uint8_t(c | 0xF0)), expected[c]) << "high bits ignored";
  }
  EXPECT_TRUE(std::signbit(E2m1ToFloat(8)));
  for (int c = 0; c < 16; ++c) EXPECT_EQ(FloatToE2m1(E2m1ToFloat(uint8_t(c))), c) << c;
}

TEST(E2m1Test, RoundNearestEvenTies) {
  EXPECT_EQ(RoundE2m1(0.25f), 0.0f);
  EXPECT_EQ(RoundE2m1(0.75f), 1.0f);
  EXPECT_EQ(RoundE2m1(1.25f), 1.0f);
  EXPECT_EQ(RoundE2m1(1.75f), 2.0f);
  EXPECT_EQ(RoundE2m1(2.5f), 2.0f);
  EXPECT_EQ(RoundE2m1(3.5f), 4.0f);
  EXPECT_EQ(RoundE2m1(5.0f), 4.0f);
  EXPECT_EQ(RoundE2m1(7.0f), 6.0f);  // saturates
  EXPECT_EQ(RoundE2m1(100.0f), 6.0f);
  EXPECT_EQ(RoundE2m1(-2.5f), -2.0f);
  EXPECT_EQ(RoundE2m1(-3.5f), -4.0f);
  EXPECT_EQ(RoundE2m1(0.26f), 0.5f);
  EXPECT_EQ(RoundE2m1(5.01f), 6.0f);
  EXPECT_EQ(RoundE2m1(2.49f), 2.0f);
  EXPECT_EQ(RoundE2m1(2.51f), 3.0f);
}

TEST(Bf16Test, RoundNearestEven) {
  EXPECT_EQ(FloatToBf16(1.0f), 0x3F80);
  EXPECT_EQ(FloatToBf16(1.0f + Pow2(-8)), 0x3F80);      // tie -> even (1.0)
  EXPECT_EQ(FloatToBf16(1.0f + 3 * Pow2(-8)), 0x3F82);  // tie -> even (1 + 2^-6)
  EXPECT_EQ(FloatToBf16(1.0f + Pow2(-8) + Pow2(-20)), 0x3F81);
  EXPECT_EQ(FloatToBf16(-2.0f), 0xC000);
  EXPECT_EQ(FloatToBf16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(FloatToBf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds up to inf
  EXPECT_EQ(Bf16ToFloat(0x3FC0), 1.5f);
  EXPECT_EQ(RoundBf16(3.14159265f), 3.140625f);
  for (uint32_t b = 0; b < 0x7F80; b += 7) {  // every finite bf16 survives a round trip
    EXPECT_EQ(FloatToBf16(Bf16ToFloat(uint16_t(b))), b);
  }
}

TEST(Bf16Test, NanStaysNan) {
  EXPECT_TRUE(std::isnan(RoundBf16(std::numeric_limits<float>::quiet_NaN())));
  // A NaN whose payload lives only in the low 16 bits must not collapse to infinity.
  float snan = std::bit_cast<float>(0x7F800001u);
  EXPECT_EQ(FloatToBf16(snan), 0x7FC0);
  EXPECT_TRUE(std::isnan(RoundBf16(snan)));
  EXPECT_TRUE(std::isnan(RoundBf16(std::bit_cast<float>(0xFF800001u))));
}

TEST(Ue8m0Test, Decode) {
  EXPECT_EQ(Ue8m0ToFloat(127), 1.0f);
  EXPECT_EQ(Ue8m0ToFloat(128), 2.0f);
  EXPECT_EQ(Ue8m0ToFloat(120), Pow2(-7));
  EXPECT_EQ(Ue8m0ToFloat(254), Pow2(127));
  EXPECT_EQ(Ue8m0ToFloat(1), Pow2(-126));
  EXPECT_EQ(Ue8m0ToFloat(0), std::ldexp(1.0f, -127));  // fp32 subnormal
}

TEST(Pow2ScaleTest, SmallestPowerOfTwoAtOrAbove) {
  EXPECT_EQ(Pow2Scale(1.0f, 0.0f, 1.0f), 1.0f);
  EXPECT_EQ(Pow2Scale(0.75f, 0.0f, 1.0f), 1.0f);
  EXPECT_EQ(Pow2Scale(0.5f, 0.0f, 1.0f), 0.5f);
  EXPECT_EQ(Pow2Scale(1.5f, 0.0f, 1.0f), 2.0f);
  EXPECT_EQ(Pow2Scale(0.0f, 3.0f, 1.0f), 4.0f);  // amin clamps
}

TEST(Pow2ScaleTest, Fp8Scale) {
  // 448 * fp32(1/448) = 7 * fp32(1/7) = 1 + 4.5e-8, which rounds to exactly 1 in fp32.
  EXPECT_EQ(Fp8Scale(448.0f), 1.0f);
  EXPECT_EQ(Fp8Scale(449.0f), 2.0f);
  EXPECT_EQ(Fp8Scale(224.0f), 0.5f);
  EXPECT_EQ(Fp8Scale(896.0f), 2.0f);
  EXPECT_EQ(Fp8Scale(1.0f), Pow2(-8));  // 1/448 = 2.2e-3 -> 2^-8 = 3.9e-3
  // amax 0 clamps to 1e-4: 1e-4/448 = 2.23e-7, between 2^-23 (1.19e-7) and 2^-22 (2.38e-7).
  EXPECT_EQ(Fp8Scale(0.0f), Pow2(-22));
  EXPECT_EQ(Fp8Scale(1e-5f), Pow2(-22));
}

TEST(Pow2ScaleTest, Fp4Scale) {
  EXPECT_EQ(Fp4Scale(6.0f), 1.0f);
  EXPECT_EQ(Fp4Scale(6.5f), 2.0f);
  EXPECT_EQ(Fp4Scale(3.0f), 0.5f);
  EXPECT_EQ(Fp4Scale(12.0f), 2.0f);
}

}  // namespace
}  // namespace dsv4
