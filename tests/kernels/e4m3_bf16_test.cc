// e4m3 -> bf16 widening: the AVX-512 kernel is bit-identical to the scalar reference on
// every code (NaN codes included) and every scale an entry can carry, and the reference
// gives the exact value of the code times the scale.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/dtype.h"
#include "kernels/e4m3_bf16.h"

namespace dsv4::kernels {
namespace {

TEST(E4m3ToBf16Test, ReferenceIsTheScaledCode) {
  std::vector<uint8_t> codes(256);
  for (int c = 0; c < 256; ++c) codes[size_t(c)] = uint8_t(c);
  std::vector<uint16_t> out(256);
  for (int e : {100, 127, 130}) {
    const float s = Ue8m0ToFloat(uint8_t(e));
    E4m3ToBf16Ref(codes.data(), 256, s, out.data());
    for (int c = 0; c < 256; ++c) {
      const float want = E4m3ToFloat(uint8_t(c)) * s;
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(Bf16ToFloat(out[size_t(c)]))) << c;
      } else {
        EXPECT_EQ(Bf16ToFloat(out[size_t(c)]), want) << "code " << c << " scale 2^" << e - 127;
      }
    }
  }
}

TEST(E4m3ToBf16Test, Avx512IsBitIdenticalToReference) {
  const E4m3ToBf16Fn avx512 = E4m3ToBf16Avx512();
  if (!avx512) GTEST_SKIP() << "no AVX-512";
  // Every code, in an order that is not the identity, with a tail of 7 codes.
  std::vector<uint8_t> codes;
  for (int c = 0; c < 263; ++c) codes.push_back(uint8_t((c * 37 + 11) % 256));
  const int64_t n = int64_t(codes.size());
  for (int e = 0; e < 256; ++e) {  // 2^-127 (subnormal) .. 2^128 (products overflow)
    const float s = Ue8m0ToFloat(uint8_t(e));
    std::vector<uint16_t> ref(codes.size()), got(codes.size());
    E4m3ToBf16Ref(codes.data(), n, s, ref.data());
    avx512(codes.data(), n, s, got.data());
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(ref[size_t(i)], got[size_t(i)]) << "code " << int(codes[size_t(i)]) << " scale byte " << e;
  }
}

}  // namespace
}  // namespace dsv4::kernels
