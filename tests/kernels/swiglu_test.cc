// The fast mode's SwiGLU (kernels/swiglu.h): its definition, its accuracy against the
// exact activation, and each SIMD version bit-identical to the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/fast_exp.h"
#include "kernels/swiglu.h"

namespace dsv4::kernels {
namespace {

TEST(SwiGluTest, ReferenceFollowsItsDefinition) {
  // Row 0: no limit; row 1: limit 7 on g from above and on u both ways.
  const int64_t I = 4;
  std::vector<float> g = {1.5f, -2.0f, 20.0f, 0.0f, 9.0f, -9.0f, 3.0f, 0.25f};
  const std::vector<float> u = {2.0f, 0.5f, -1.0f, 3.0f, 8.0f, -8.0f, -9.0f, 100.0f};
  const std::vector<float> w = {1.0f, 0.75f};
  std::vector<float> got = g;
  SwiGluRef(got.data(), u.data(), 1, I, nullptr, 0.0f);
  SwiGluRef(got.data() + I, u.data() + I, 1, I, w.data() + 1, 7.0f);
  auto silu = [](float x) { return x / (1.0f + FastExp(-x)); };
  for (int64_t i = 0; i < I; ++i) EXPECT_EQ(got[size_t(i)], RoundBf16(silu(g[size_t(i)]) * u[size_t(i)])) << i;
  EXPECT_EQ(got[4], RoundBf16(0.75f * (silu(7.0f) * 7.0f)));
  EXPECT_EQ(got[5], RoundBf16(0.75f * (silu(-9.0f) * -7.0f)));
  EXPECT_EQ(got[6], RoundBf16(0.75f * (silu(3.0f) * -7.0f)));
  EXPECT_EQ(got[7], RoundBf16(0.75f * (silu(0.25f) * 7.0f)));
}

TEST(SwiGluTest, CloseToTheExactActivation) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  const int64_t I = 4096;
  std::vector<float> g(I), u(I);
  for (int64_t i = 0; i < I; ++i) {
    g[size_t(i)] = normal(rng);
    u[size_t(i)] = normal(rng);
  }
  std::vector<float> got = g;
  SwiGluRef(got.data(), u.data(), 1, I, nullptr, 0.0f);
  int differ = 0;
  for (int64_t i = 0; i < I; ++i) {
    const double exact = double(g[size_t(i)]) / (1.0 + std::exp(-double(g[size_t(i)]))) * double(u[size_t(i)]);
    // Within the final bf16 rounding (2^-8 relative) and a few fp32 ulps before it.
    EXPECT_NEAR(got[size_t(i)], exact, std::fabs(exact) * (1.0 / 256 + 1e-6) + 1e-30) << i;
    differ += got[size_t(i)] != RoundBf16(float(exact));
  }
  EXPECT_LT(differ, I / 50);  // the bf16 result is the exact one's rounding almost always
}

void ExpectBitIdentical(SwiGluFn fast) {
  std::mt19937 rng(12);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // (The final bf16 rounding hides most fp32 last-bit differences: 64 x 2048 values make
  // an operation out of order show.)
  for (int64_t I : {1, 7, 8, 15, 16, 17, 33, 2048}) {
    for (int64_t T : {int64_t(1), int64_t(3), I == 2048 ? int64_t(64) : int64_t(2)}) {
      for (float lim : {0.0f, 10.0f}) {
        for (bool weighted : {false, true}) {
          std::vector<float> g(static_cast<size_t>(T * I)), u(static_cast<size_t>(T * I)), w(static_cast<size_t>(T));
          for (size_t i = 0; i < g.size(); ++i) {
            // g across FastExp's whole range and past both ends of it.
            g[i] = normal(rng) * std::ldexp(1.0f, int(rng() % 8));
            u[i] = normal(rng) * 4.0f;
          }
          if (g.size() > 4) {
            g[0] = 90.0f;
            g[1] = -90.0f;
            g[2] = 0.0f;
            g[3] = -87.0f;
          }
          for (float& x : w) x = std::fabs(normal(rng));
          std::vector<float> ref = g, got = g;
          SwiGluRef(ref.data(), u.data(), T, I, weighted ? w.data() : nullptr, lim);
          fast(got.data(), u.data(), T, I, weighted ? w.data() : nullptr, lim);
          ASSERT_EQ(std::memcmp(ref.data(), got.data(), ref.size() * sizeof(float)), 0)
              << "I " << I << " T " << T << " lim " << lim << " weighted " << weighted;
        }
      }
    }
  }
}

TEST(SwiGluTest, Avx2IsBitIdenticalToReference) {
  const SwiGluFn avx2 = SwiGluAvx2();
  if (!avx2) GTEST_SKIP() << "no AVX2";
  ExpectBitIdentical(avx2);
}

TEST(SwiGluTest, Avx512IsBitIdenticalToReference) {
  const SwiGluFn avx512 = SwiGluAvx512();
  if (!avx512) GTEST_SKIP() << "no AVX-512";
  ExpectBitIdentical(avx512);
}

}  // namespace
}  // namespace dsv4::kernels
