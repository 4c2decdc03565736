// The fast mode's softmax block (kernels/softmax_block.h): the block's definition, and
// each SIMD version bit-identical to the reference.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/fast_exp.h"
#include "kernels/softmax_block.h"

namespace dsv4::kernels {
namespace {

struct Block {
  std::vector<float> scores, m, p, alpha, sum;
  std::vector<uint8_t> live;
};

// heads x n scores (some heads all -inf so far: m = -inf), p rows n + 5 apart.
Block RandomBlock(int64_t heads, int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Block b;
  for (int64_t i = 0; i < heads * n; ++i) b.scores.push_back(normal(rng) * std::ldexp(1.0f, int(rng() % 12) - 2));
  for (int64_t h = 0; h < heads; ++h) b.m.push_back(h % 3 == 0 ? -INFINITY : normal(rng) * 8.0f);
  b.p.assign(size_t(heads * (n + 5)), -7.0f);
  b.alpha.assign(size_t(heads), -7.0f);
  b.sum.assign(size_t(heads), -7.0f);
  b.live.assign(size_t(heads), 7);
  return b;
}

void RunBlock(SoftmaxBlockFn fn, Block& b, int64_t heads, int64_t n, float scale) {
  fn(b.scores.data(), heads, n, scale, b.m.data(), b.p.data(), n + 5, b.alpha.data(), b.sum.data(), b.live.data());
}

TEST(SoftmaxBlockTest, ReferenceFollowsItsDefinition) {
  std::mt19937 rng(3);
  const int64_t heads = 4, n = 37;
  const float scale = 0.0441941738f;
  Block b = RandomBlock(heads, n, rng);
  const std::vector<float> m0 = b.m;
  RunBlock(SoftmaxBlockRef, b, heads, n, scale);
  for (int64_t h = 0; h < heads; ++h) {
    float mx = -INFINITY;
    for (int64_t u = 0; u < n; ++u) mx = std::max(mx, b.scores[size_t(h * n + u)] * scale);
    const float m_new = std::max(m0[size_t(h)], mx);
    ASSERT_EQ(b.live[size_t(h)], 1);
    EXPECT_EQ(b.m[size_t(h)], m_new);
    EXPECT_EQ(b.alpha[size_t(h)], FastExp(m0[size_t(h)] - m_new));
    double exact = 0.0;
    for (int64_t u = 0; u < n; ++u) {
      const float e = FastExp(b.scores[size_t(h * n + u)] * scale - m_new);
      EXPECT_EQ(b.p[size_t(h * (n + 5) + u)], RoundBf16(e));
      exact += double(e);
    }
    EXPECT_NEAR(b.sum[size_t(h)], exact, exact * 1e-6);
    EXPECT_EQ(b.p[size_t(h * (n + 5) + n)], -7.0f);  // past n: untouched
  }
}

TEST(SoftmaxBlockTest, HeadWithNoFiniteScoreIsNotLive) {
  const int64_t n = 3;
  std::vector<float> scores = {-INFINITY, -INFINITY, -INFINITY}, m = {-INFINITY}, p(n + 5, -7.0f);
  float alpha = -7.0f, sum = -7.0f;
  uint8_t live = 7;
  for (SoftmaxBlockFn fn : {SoftmaxBlockFn(SoftmaxBlockRef), SoftmaxBlockAvx2(), SoftmaxBlockAvx512()}) {
    if (!fn) continue;
    std::fill(p.begin(), p.end(), -7.0f);
    fn(scores.data(), 1, n, 0.5f, m.data(), p.data(), n + 5, &alpha, &sum, &live);
    EXPECT_EQ(live, 0);
    EXPECT_EQ(m[0], -INFINITY);
    EXPECT_EQ(alpha, -7.0f);
    EXPECT_EQ(sum, -7.0f);
    for (float v : p) EXPECT_EQ(v, 0.0f);  // the whole row of p_stride
  }
}

void ExpectBitIdentical(SoftmaxBlockFn fast, uint32_t seed) {
  std::mt19937 rng(seed);
  for (int64_t n : {0, 1, 7, 15, 16, 17, 33, 64}) {
    for (int64_t heads : {1, 3, 8}) {
      for (float scale : {0.0441941738f, 1.0f}) {
        Block ref = RandomBlock(heads, n, rng);
        Block got = ref;
        RunBlock(SoftmaxBlockRef, ref, heads, n, scale);
        RunBlock(fast, got, heads, n, scale);
        auto same = [](const std::vector<float>& a, const std::vector<float>& b) {
          return std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
        };
        EXPECT_TRUE(same(ref.m, got.m)) << "n " << n << " heads " << heads;
        EXPECT_TRUE(same(ref.p, got.p)) << "n " << n << " heads " << heads;
        EXPECT_TRUE(same(ref.alpha, got.alpha)) << "n " << n << " heads " << heads;
        EXPECT_TRUE(same(ref.sum, got.sum)) << "n " << n << " heads " << heads;
        EXPECT_EQ(ref.live, got.live);
      }
    }
  }
  // FastExp of z - m' over [-180, 0] (the softmax's inputs), 16 lanes at a time.
  std::vector<float> x;
  for (float v = -90.0f; v <= 90.0f; v += 0.0137f) x.push_back(v);
  x.push_back(-INFINITY);  // (not +inf: the block's max, and so every z - m', would be inf)
  const int64_t nx = int64_t(x.size());
  std::vector<float> p(static_cast<size_t>(nx)), p_ref(static_cast<size_t>(nx));
  float m = 0.0f, m_ref = 0.0f, alpha, sum, sum_ref;
  uint8_t live;
  SoftmaxBlockRef(x.data(), 1, nx, 1.0f, &m_ref, p_ref.data(), nx, &alpha, &sum_ref, &live);
  fast(x.data(), 1, nx, 1.0f, &m, p.data(), nx, &alpha, &sum, &live);
  EXPECT_EQ(std::memcmp(p.data(), p_ref.data(), size_t(nx) * sizeof(float)), 0);
  EXPECT_EQ(std::bit_cast<uint32_t>(sum), std::bit_cast<uint32_t>(sum_ref));
}

TEST(SoftmaxBlockTest, Avx2IsBitIdenticalToReference) {
  const SoftmaxBlockFn avx2 = SoftmaxBlockAvx2();
  if (!avx2) GTEST_SKIP() << "no AVX2";
  ExpectBitIdentical(avx2, 5);
}

TEST(SoftmaxBlockTest, Avx512IsBitIdenticalToReference) {
  const SoftmaxBlockFn avx512 = SoftmaxBlockAvx512();
  if (!avx512) GTEST_SKIP() << "no AVX-512";
  ExpectBitIdentical(avx512, 6);
}

}  // namespace
}  // namespace dsv4::kernels
