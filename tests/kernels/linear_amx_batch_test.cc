// FP8 / FP4 products on AMX tiles, taken only with batch invariance off
// (kernels/precision.h) and from kAmxMinTokens rows (kernels/linear_amx.h): every output
// within the fp32 summation bound of the exact product, for one and several token tiles
// with and without a tail, a row range that starts and ends inside 16-row panels (and
// crosses FP8's 128-row scale blocks); rows whose scales cannot fold into bf16 exponents
// (scale bytes outside the range) get the SIMD kernels' bits; fewer rows than
// kAmxMinTokens, or invariance on, give exactly the batch-invariant results. Skipped
// where the CPU (or DSV4_ISA) has no AMX.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/linear.h"
#include "kernels/linear_amx.h"
#include "kernels/precision.h"
#include "test_weights.h"

namespace dsv4::kernels {
namespace {

// T rows of K bf16-exact activations over a wide range of magnitudes.
std::vector<float> MakeActs(int64_t T, int64_t K, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-8, 8);
  std::vector<float> x(size_t(T * K));
  for (auto& v : x) v = RoundBf16(std::ldexp(dist(rng), exponent(rng)));
  return x;
}

class LinearAmxBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!AmxActive()) GTEST_SKIP() << "no AMX on this CPU (or DSV4_ISA caps it)";
  }
  void TearDown() override { SetBatchInvariant(true); }

  // Rows [r0, r1) of w times x (T rows), with batch invariance on or off.
  static std::vector<float> Run(const std::vector<float>& x, int64_t T, const WeightMatrix& w, int64_t r0,
                                int64_t r1, bool invariant) {
    SetBatchInvariant(invariant);
    std::vector<float> y(size_t(T * (r1 - r0)), -7.0f);
    LinearRows(x.data(), T, w, r0, r1, y.data(), LinearOptions{.act_quant = false, .round_bf16 = false});
    SetBatchInvariant(true);
    return y;
  }
};

TEST_F(LinearAmxBatchTest, WithinTheSummationBoundOfTheExactProduct) {
  std::mt19937 rng(21);
  for (DType dtype : {DType::kF8E4M3, DType::kI8}) {
    const int64_t N = dtype == DType::kF8E4M3 ? 300 : 77, K = 384;
    TestWeights w = MakeWeights(dtype, N, K, rng);
    const int64_t r0 = 5, r1 = N - 3;
    for (int64_t T : {8, 16, 17, 40}) {
      const std::vector<float> x = MakeActs(T, K, rng);
      const std::vector<float> y = Run(x, T, w.m, r0, r1, false);
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t n = r0; n < r1; ++n) {
          double sum = 0, abs_sum = 0;
          for (int64_t k = 0; k < K; ++k) {
            const double p = double(x[size_t(t * K + k)]) * WeightAt(w.m, n, k);
            sum += p;
            abs_sum += std::fabs(p);
          }
          ASSERT_NEAR(y[size_t(t * (r1 - r0) + n - r0)], sum, 2.0 * double(K + 1) * std::ldexp(1.0, -24) * abs_sum)
              << DTypeName(dtype) << " T " << T << " t " << t << " n " << n;
        }
      }
    }
  }
}

TEST_F(LinearAmxBatchTest, RowsWhoseScalesDoNotFoldTakeTheSimdKernels) {
  std::mt19937 rng(22);
  const int64_t T = 20, K = 256;
  for (DType dtype : {DType::kF8E4M3, DType::kI8}) {
    const int64_t N = dtype == DType::kF8E4M3 ? 260 : 48;
    TestWeights w = MakeWeights(dtype, N, K, rng);
    // FP8: rows 128..255 share a block whose scale is 2^-127 (byte 0, too small to fold);
    // FP4: rows 3 and 30 have one scale byte 0 (2^-127) and 254 (2^127) each.
    std::vector<bool> simd(size_t(N), false);
    if (dtype == DType::kF8E4M3) {
      w.scale[size_t(1 * (K / 128) + 1)] = 0;
      for (int64_t n = 128; n < 256; ++n) simd[size_t(n)] = true;
    } else {
      w.scale[size_t(3 * (K / 32) + 2)] = 0;
      w.scale[size_t(30 * (K / 32) + 5)] = 254;
      simd[3] = simd[30] = true;
    }
    const std::vector<float> x = MakeActs(T, K, rng);
    const std::vector<float> amx = Run(x, T, w.m, 0, N, false);
    const std::vector<float> invariant = Run(x, T, w.m, 0, N, true);
    int64_t differing = 0;
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t n = 0; n < N; ++n) {
        const size_t i = size_t(t * N + n);
        if (simd[size_t(n)]) {
          // (bits: a scale of 2^127 makes some of these products infinite, their sums NaN)
          ASSERT_EQ(std::bit_cast<uint32_t>(amx[i]), std::bit_cast<uint32_t>(invariant[i]))
              << DTypeName(dtype) << " t " << t << " n " << n;
        } else {
          differing += amx[i] != invariant[i];
        }
      }
    }
    // The other rows did run on the tiles (their summation order differs somewhere).
    EXPECT_GT(differing, 0) << DTypeName(dtype);
  }
}

TEST_F(LinearAmxBatchTest, FewRowsOrInvarianceOnKeepTheInvariantBits) {
  std::mt19937 rng(23);
  const int64_t K = 256;
  for (DType dtype : {DType::kF8E4M3, DType::kI8}) {
    const int64_t N = 64;
    TestWeights w = MakeWeights(dtype, N, K, rng);
    const std::vector<float> x = MakeActs(kAmxMinTokens, K, rng);
    const int64_t below = kAmxMinTokens - 1;
    const std::vector<float> off = Run(x, below, w.m, 0, N, false);
    std::vector<float> one(static_cast<size_t>(N));
    for (int64_t t = 0; t < below; ++t) {
      LinearRows(&x[size_t(t * K)], 1, w.m, 0, N, one.data(), LinearOptions{.act_quant = false, .round_bf16 = false});
      for (int64_t n = 0; n < N; ++n) ASSERT_EQ(off[size_t(t * N + n)], one[size_t(n)]) << DTypeName(dtype);
    }
    const std::vector<float> on = Run(x, kAmxMinTokens, w.m, 0, N, true);
    for (int64_t t = 0; t < kAmxMinTokens; ++t) {
      LinearRows(&x[size_t(t * K)], 1, w.m, 0, N, one.data(), LinearOptions{.act_quant = false, .round_bf16 = false});
      for (int64_t n = 0; n < N; ++n) ASSERT_EQ(on[size_t(t * N + n)], one[size_t(n)]) << DTypeName(dtype);
    }
  }
}

}  // namespace
}  // namespace dsv4::kernels
