// Attention P·V block sums: each SIMD kernel is bit-identical to the scalar reference,
// for one head and for several heads sharing the keys.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/attention_pv.h"

namespace dsv4::kernels {
namespace {

void ExpectBitIdentical(AttentionPvFn fast, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t d : {16, 96, 144, 512, 20, 71}) {  // 20, 71: tails of 4 and 7 dims
    for (int64_t n : {0, 1, 17, 64, 130}) {        // 130: more keys than one pass
      for (int64_t heads : {1, 3, 8}) {
        std::vector<std::vector<uint16_t>> rows(static_cast<size_t>(n));
        std::vector<const uint16_t*> ptrs;
        for (auto& r : rows) {
          for (int64_t i = 0; i < d; ++i) r.push_back(FloatToBf16(normal(rng) * std::ldexp(1.0f, int(rng() % 40) - 20)));
          ptrs.push_back(r.data());
        }
        // Probabilities across a wide range, subnormal ones included; rows n + 3 apart.
        const int64_t stride = n + 3;
        std::vector<float> p(static_cast<size_t>(heads * stride), 0.5f);
        for (int64_t h = 0; h < heads; ++h) {
          for (int64_t u = 0; u < n; ++u) p[size_t(h * stride + u)] = RoundBf16(std::exp(-float(rng() % 100)));
        }
        std::vector<double> ref(static_cast<size_t>(heads * d), -1.0), got(static_cast<size_t>(heads * d), -2.0);
        AttentionPvRef(p.data(), stride, heads, ptrs.data(), n, d, ref.data());
        fast(p.data(), stride, heads, ptrs.data(), n, d, got.data());
        for (int64_t i = 0; i < heads * d; ++i) {
          ASSERT_EQ(ref[size_t(i)], got[size_t(i)]) << "d " << d << " n " << n << " heads " << heads << " at " << i;
        }
      }
    }
  }
}

TEST(AttentionPvTest, Avx2IsBitIdenticalToReference) {
  const AttentionPvFn avx2 = AttentionPvAvx2();
  if (!avx2) GTEST_SKIP() << "no AVX2";
  ExpectBitIdentical(avx2, 4);
}

TEST(AttentionPvTest, Avx512IsBitIdenticalToReference) {
  const AttentionPvFn avx512 = AttentionPvAvx512();
  if (!avx512) GTEST_SKIP() << "no AVX-512";
  ExpectBitIdentical(avx512, 5);
}

}  // namespace
}  // namespace dsv4::kernels
