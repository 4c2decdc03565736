// Attention P·V block sums: each SIMD kernel is bit-identical to the scalar reference,
// for one head and for several heads sharing the keys.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/attention_pv.h"

namespace dsv4::kernels {
namespace {

// Out = double (AttentionPvFn) or float (AttentionPvF32Fn), checked against its reference.
template <typename Out, typename Fn>
void ExpectBitIdenticalTo(Fn ref_fn, Fn fast, uint32_t seed) {
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
        std::vector<Out> ref(static_cast<size_t>(heads * d), Out(-1)), got(static_cast<size_t>(heads * d), Out(-2));
        ref_fn(p.data(), stride, heads, ptrs.data(), n, d, ref.data());
        fast(p.data(), stride, heads, ptrs.data(), n, d, got.data());
        for (int64_t i = 0; i < heads * d; ++i) {
          ASSERT_EQ(ref[size_t(i)], got[size_t(i)]) << "d " << d << " n " << n << " heads " << heads << " at " << i;
        }
      }
    }
  }
}

void ExpectBitIdentical(AttentionPvFn fast, uint32_t seed) {
  ExpectBitIdenticalTo<double>(AttentionPvFn(AttentionPvRef), fast, seed);
}
void ExpectBitIdenticalF32(AttentionPvF32Fn fast, uint32_t seed) {
  ExpectBitIdenticalTo<float>(AttentionPvF32Fn(AttentionPvF32Ref), fast, seed);
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

TEST(AttentionPvTest, F32Avx2IsBitIdenticalToReference) {
  const AttentionPvF32Fn avx2 = AttentionPvF32Avx2();
  if (!avx2) GTEST_SKIP() << "no AVX2";
  ExpectBitIdenticalF32(avx2, 6);
}

TEST(AttentionPvTest, F32Avx512IsBitIdenticalToReference) {
  const AttentionPvF32Fn avx512 = AttentionPvF32Avx512();
  if (!avx512) GTEST_SKIP() << "no AVX-512";
  ExpectBitIdenticalF32(avx512, 7);
}

TEST(AttentionPvTest, TileAmxIsBitIdenticalToTileReference) {
  const AttentionPvF32Fn amx = AttentionPvTileAmx();
  if (!amx) GTEST_SKIP() << "no AMX";
  ExpectBitIdenticalTo<float>(AttentionPvF32Fn(AttentionPvTileRef), amx, 9);
  // SinkAttention's shape: 64 heads (four A tiles) of 512 dims, a 64-key block and a part
  // of one, probabilities from a softmax.
  std::mt19937 rng(10);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t n : {64, 45}) {
    constexpr int64_t d = 512, heads = 64;
    std::vector<std::vector<uint16_t>> rows(static_cast<size_t>(n));
    std::vector<const uint16_t*> ptrs;
    for (auto& r : rows) {
      for (int64_t i = 0; i < d; ++i) r.push_back(FloatToBf16(normal(rng)));
      ptrs.push_back(r.data());
    }
    std::vector<float> p(static_cast<size_t>(heads * 64), 0.0f);
    for (float& x : p) x = RoundBf16(std::exp(-std::fabs(normal(rng)) * 4.0f));
    std::vector<float> want(static_cast<size_t>(heads * d), -1.0f), got(static_cast<size_t>(heads * d), -2.0f);
    AttentionPvTileRef(p.data(), 64, heads, ptrs.data(), n, d, want.data());
    amx(p.data(), 64, heads, ptrs.data(), n, d, got.data());
    ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << "n " << n;
  }
}

// The fp32 sums (key order, and tile order) stay within fp32 rounding of the f64 ones (a
// check that the fast kernels compute the same quantity, not only the same bits as their
// own reference).
TEST(AttentionPvTest, F32IsCloseToF64) {
  std::mt19937 rng(8);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  constexpr int64_t d = 512, n = 130, heads = 4;
  std::vector<std::vector<uint16_t>> rows(static_cast<size_t>(n));
  std::vector<const uint16_t*> ptrs;
  for (auto& r : rows) {
    for (int64_t i = 0; i < d; ++i) r.push_back(FloatToBf16(normal(rng)));
    ptrs.push_back(r.data());
  }
  std::vector<float> p(static_cast<size_t>(heads * n));
  for (float& v : p) v = RoundBf16(std::exp(-float(rng() % 8)));
  std::vector<double> want(static_cast<size_t>(heads * d));
  std::vector<float> got(static_cast<size_t>(heads * d));
  AttentionPvRef(p.data(), n, heads, ptrs.data(), n, d, want.data());
  for (AttentionPvF32Fn fn : {ActiveAttentionPvF32(), AttentionPvF32Fn(AttentionPvTileRef)}) {
  fn(p.data(), n, heads, ptrs.data(), n, d, got.data());
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < d; ++i) {
      double scale = 0;  // Σ |p · v|: n · 2^-24 of it bounds the fp32 sum's rounding error
      for (int64_t u = 0; u < n; ++u) scale += std::fabs(double(p[size_t(h * n + u)]) * double(Bf16ToFloat(ptrs[size_t(u)][i])));
      ASSERT_NEAR(double(got[size_t(h * d + i)]), want[size_t(h * d + i)], scale * double(n) * 6e-8)
          << "head " << h << " dim " << i;
    }
  }
  }
}

}  // namespace
}  // namespace dsv4::kernels
