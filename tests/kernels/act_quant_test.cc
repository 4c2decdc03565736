// QuantizeActFp8's AVX-512 version against the scalar reference, bit for bit: random rows
// over many magnitudes, and blocks of edge values (zeros of both signs, NaN, infinities,
// fp32 subnormals, values on e4m3 rounding ties and at the saturation bound).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kernels/act_quant.h"
#include "kernels/linear.h"

namespace dsv4::kernels {
namespace {

void ExpectBitIdentical(QuantizeActFp8Fn simd, const std::vector<float>& x) {
  const int64_t K = int64_t(x.size());
  std::vector<float> q_ref(x.size(), 1.0f), q_simd(x.size(), 2.0f);
  std::vector<float> s_ref(x.size() / 128, 1.0f), s_simd(x.size() / 128, 2.0f);
  QuantizeActFp8Ref(x.data(), K, q_ref.data(), s_ref.data());
  simd(x.data(), K, q_simd.data(), s_simd.data());
  for (size_t b = 0; b < s_ref.size(); ++b) ASSERT_EQ(s_ref[b], s_simd[b]) << "block " << b;
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(q_ref[i]), std::bit_cast<uint32_t>(q_simd[i]))
        << "i " << i << " x " << x[i] << " ref " << q_ref[i] << " simd " << q_simd[i];
  }
}

TEST(ActQuantTest, Avx512MatchesReferenceOnRandomRows) {
  const QuantizeActFp8Fn simd = QuantizeActFp8Avx512();
  if (simd == nullptr) GTEST_SKIP() << "no AVX-512F";
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int rep = 0; rep < 50; ++rep) {
    std::vector<float> x(128 * 8);
    // Each block at its own magnitude, from far below the FP8 range to far above.
    for (size_t i = 0; i < x.size(); ++i) x[i] = normal(rng) * std::ldexp(1.0f, int((i / 128 + rep) % 60) - 30);
    ExpectBitIdentical(simd, x);
  }
}

TEST(ActQuantTest, Avx512MatchesReferenceOnEdgeValues) {
  const QuantizeActFp8Fn simd = QuantizeActFp8Avx512();
  if (simd == nullptr) GTEST_SKIP() << "no AVX-512F";
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x(128 * 6, 0.0f);
  // Block 0: all zero (amax clamps to its minimum). Block 1: signed zeros, NaN, infinities.
  for (int i = 0; i < 128; ++i) x[128 + i] = (i % 4 == 0) ? -0.0f : (i % 4 == 1) ? nan : (i % 4 == 2) ? inf : -inf;
  // Block 2: fp32 subnormals and tiny values beside one moderate value.
  for (int i = 0; i < 128; ++i) x[256 + i] = std::ldexp(float(i + 1), -140 + i / 4);
  x[256 + 5] = 3.0f;
  // Block 3: e4m3 rounding ties (half-way between grid points) at several exponents,
  // both signs; the block amax is 448 so the scale is 1.
  for (int i = 0; i < 128; ++i) {
    const float grid = std::ldexp(1.0f + float(i % 8) / 8.0f, i / 8 % 8 - 2);
    x[384 + i] = (i % 2 ? -1.0f : 1.0f) * (grid + std::ldexp(1.0f, i / 8 % 8 - 2) / 16.0f);
  }
  x[384] = 448.0f;
  // Block 4: ties in the e4m3 subnormal range (odd multiples of 2^-10), scale 1.
  for (int i = 0; i < 128; ++i) x[512 + i] = std::ldexp(float(2 * i + 1), -10);
  x[512 + 127] = 448.0f;
  // Block 5: values beyond the saturation bound after scaling, and the bound itself.
  for (int i = 0; i < 128; ++i) x[640 + i] = (i % 2 ? -1.0f : 1.0f) * 448.0f * (1.0f + float(i) / 64.0f);
  ExpectBitIdentical(simd, x);
}

}  // namespace
}  // namespace dsv4::kernels
