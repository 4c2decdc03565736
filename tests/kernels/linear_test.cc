// kernels::Linear for every weight format vs a naive double-precision product built from
// WeightAt (and QuantizeActFp8 when activations are quantised), plus QuantizeActFp8 itself.
// Linear uses ActiveDotKernels(); ctest also runs this binary with DSV4_ISA=ref.
#include "kernels/linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/dot.h"
#include "kernels/precision.h"
#include "test_weights.h"

namespace dsv4::kernels {
namespace {

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }


// x: [T, K] bf16-exact values whose magnitude varies per 128-block; row 1 has a zero block.
std::vector<float> MakeActs(int64_t T, int64_t K, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::uniform_real_distribution<float> log_mag(-3.0f, 2.0f);
  std::vector<float> x(size_t(T * K));
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t b = 0; b < CeilDiv(K, 128); ++b) {
      float mag = std::pow(10.0f, log_mag(rng));
      bool zero = (t == 1 && b == 1);
      for (int64_t k = b * 128; k < std::min(K, (b + 1) * 128); ++k) {
        x[size_t(t * K + k)] = zero ? 0.0f : RoundBf16(mag * dist(rng));
      }
    }
  }
  return x;
}

struct LinearCase {
  DType dtype;
  int64_t N, K;
  bool act_quant;
  bool round_bf16;
};

std::string CaseName(const ::testing::TestParamInfo<LinearCase>& info) {
  const LinearCase& c = info.param;
  std::string d = c.dtype == DType::kBF16     ? "Bf16"
                  : c.dtype == DType::kF32    ? "F32"
                  : c.dtype == DType::kF8E4M3 ? "Fp8"
                                              : "Fp4";
  return d + "_N" + std::to_string(c.N) + "_K" + std::to_string(c.K) +
         (c.act_quant ? "_ActQuant" : "_NoActQuant") + (c.round_bf16 ? "_RoundBf16" : "_F32Out");
}

// Printed by gtest (and shown by ctest) instead of the raw bytes of the struct.
void PrintTo(const LinearCase& c, std::ostream* os) {
  *os << DTypeName(c.dtype) << " [" << c.N << ", " << c.K << "] act_quant=" << c.act_quant
      << " round_bf16=" << c.round_bf16;
}

class LinearTest : public ::testing::TestWithParam<LinearCase> {};

TEST_P(LinearTest, MatchesNaiveDouble) {
  const LinearCase& c = GetParam();
  std::mt19937 rng(uint32_t(c.N * 1000 + c.K));
  TestWeights w = MakeWeights(c.dtype, c.N, c.K, rng);
  const bool quantised = c.dtype == DType::kF8E4M3 || c.dtype == DType::kI8;
  LinearOptions options;
  options.act_quant = c.act_quant;
  options.round_bf16 = c.round_bf16;

  for (int64_t T : {1, 3, 17}) {
    std::vector<float> x = MakeActs(T, c.K, rng);
    std::vector<float> y(size_t(T * c.N), NAN);
    Linear(x.data(), T, w.m, y.data(), options);

    for (int64_t t = 0; t < T; ++t) {
      // The activations the product should see: q * s when quantised, else x.
      std::vector<double> a(size_t(c.K));
      if (quantised && c.act_quant) {
        std::vector<float> q(size_t(c.K)), s(size_t(c.K / 128));
        QuantizeActFp8(&x[size_t(t * c.K)], c.K, q.data(), s.data());
        for (int64_t k = 0; k < c.K; ++k) a[k] = double(q[k]) * s[k / 128];
      } else {
        for (int64_t k = 0; k < c.K; ++k) a[k] = x[size_t(t * c.K + k)];
      }
      for (int64_t n = 0; n < c.N; ++n) {
        double want = 0.0, abs_sum = 0.0;
        for (int64_t k = 0; k < c.K; ++k) {
          double term = a[k] * double(WeightAt(w.m, n, k));
          want += term;
          abs_sum += std::fabs(term);
        }
        // fp32 accumulation error of any summation order, plus the final bf16 rounding.
        double tol = double(c.K + 8) * std::ldexp(1.0, -24) * abs_sum + 1e-30;
        if (c.round_bf16) tol += std::ldexp(std::fabs(want) + tol, -8);
        float got = y[size_t(t * c.N + n)];
        ASSERT_NEAR(got, want, tol) << "T=" << T << " t=" << t << " n=" << n;
        if (c.round_bf16) {
          ASSERT_EQ(RoundBf16(got), got) << "output not bf16";
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Formats, LinearTest,
    ::testing::Values(LinearCase{DType::kBF16, 37, 300, false, true},
                      LinearCase{DType::kBF16, 37, 300, false, false},
                      LinearCase{DType::kBF16, 64, 256, true, false},  // act_quant ignored for bf16
                      LinearCase{DType::kF32, 37, 300, false, true},
                      LinearCase{DType::kF32, 37, 300, false, false},
                      LinearCase{DType::kF8E4M3, 130, 384, true, true},
                      LinearCase{DType::kF8E4M3, 130, 384, true, false},
                      // N and K not multiples of 128 (needs act_quant off):
                      LinearCase{DType::kF8E4M3, 200, 300, false, true},
                      LinearCase{DType::kF8E4M3, 200, 300, false, false},
                      LinearCase{DType::kF8E4M3, 5, 100, false, false},  // one partial block
                      LinearCase{DType::kF8E4M3, 256, 128, true, false},
                      LinearCase{DType::kI8, 40, 256, true, true},
                      LinearCase{DType::kI8, 40, 256, true, false},
                      LinearCase{DType::kI8, 33, 96, false, true},  // K not a multiple of 128
                      LinearCase{DType::kI8, 33, 96, false, false}),
    CaseName);

// Each activation-row dot product depends only on its own row (no cross-row mixing),
// whatever the batch: T = 3 (FP8/FP4: lockstep weight streams), 5 (rows kernels), 12
// (GEMM panels, one token tile) and 70 (two tiles, 48-row panels) against single rows, N = 47 not a multiple of any tile width.
TEST(LinearRowsTest, RowsAreIndependent) {
  std::mt19937 rng(7);
  constexpr int64_t N = 47, K = 256;
  for (DType dtype : {DType::kBF16, DType::kF32, DType::kF8E4M3, DType::kI8}) {
    TestWeights w = MakeWeights(dtype, N, K, rng);
    for (int64_t T : {3, 5, 12, 70}) {
      std::vector<float> x = MakeActs(T, K, rng);
      std::vector<float> y_all(size_t(T * N));
      Linear(x.data(), T, w.m, y_all.data(), LinearOptions{});
      for (int64_t t = 0; t < T; ++t) {
        std::vector<float> y_one(N);
        Linear(&x[size_t(t * K)], 1, w.m, y_one.data(), LinearOptions{});
        for (int64_t n = 0; n < N; ++n) {
          ASSERT_EQ(y_one[n], y_all[size_t(t * N + n)]) << DTypeName(dtype) << " T=" << T << " t=" << t << " n=" << n;
        }
      }
    }
  }
}

// Each weight row's outputs depend only on that row, whatever rows it is computed with:
// a range crossing two 128-row scale blocks from an unaligned start (the decode paths group
// rows into weight streams, FP8 within one row block so their scales fold into the decode
// tables) against each row alone, bit for bit, at T = 1 and 2 (the stream kernels) and 5.
// One FP8 row block's scales do not fold into bf16 (2^-120), so both decode paths run.
TEST(LinearRowsTest, WeightRowsAreIndependentOfTheirGrouping) {
  std::mt19937 rng(17);
  constexpr int64_t N = 300, K = 512, kRow0 = 37, kRow1 = 290;
  for (DType dtype : {DType::kBF16, DType::kF8E4M3, DType::kI8}) {
    TestWeights w = MakeWeights(dtype, N, K, rng);
    if (dtype == DType::kF8E4M3) w.scale[size_t(CeilDiv(K, 128)) + 1] = 7;  // row block 1, column block 1
    for (bool act_quant : {true, false}) {
      const LinearOptions options{.act_quant = act_quant, .round_bf16 = false};
      for (int64_t T : {1, 2, 5}) {
        const std::vector<float> x = MakeActs(T, K, rng);
        std::vector<float> all(size_t(T * (kRow1 - kRow0)));
        LinearRows(x.data(), T, w.m, kRow0, kRow1, all.data(), options);
        for (int64_t r = kRow0; r < kRow1; ++r) {
          std::vector<float> one(static_cast<size_t>(T));
          LinearRows(x.data(), T, w.m, r, r + 1, one.data(), options);
          for (int64_t t = 0; t < T; ++t) {
            ASSERT_EQ(one[size_t(t)], all[size_t(t * (kRow1 - kRow0) + r - kRow0)])
                << DTypeName(dtype) << " aq=" << act_quant << " T=" << T << " row " << r << " t=" << t;
          }
        }
      }
    }
  }
}

// LinearRowsStrided on a column block of wider rows, into a column block of wider output
// rows, equals LinearRows on the gathered block, bit for bit, and leaves the output's
// other columns alone: every format, with and without activation quantisation, over the
// paths a T selects (1: GEMV / weight streams, 5: rows kernels, 70: GEMM panels).
TEST(LinearRowsTest, StridedRowsMatchGathered) {
  std::mt19937 rng(11);
  constexpr int64_t N = 40, K = 256, kXStride = 3 * K + 64, kYStride = 2 * 17 + 5;
  constexpr int64_t kRow0 = 3, kRow1 = 20, kCol0 = 7;  // output rows [3, 20) at column 7
  for (DType dtype : {DType::kBF16, DType::kF32, DType::kF8E4M3, DType::kI8}) {
    TestWeights w = MakeWeights(dtype, N, K, rng);
    for (bool act_quant : {true, false}) {
      const LinearOptions options{.act_quant = act_quant, .round_bf16 = true};
      for (int64_t T : {1, 5, 70}) {
        std::vector<float> wide = MakeActs(T, kXStride, rng);
        std::vector<float> block(size_t(T * K));
        for (int64_t t = 0; t < T; ++t) {
          std::copy(&wide[size_t(t * kXStride + K)], &wide[size_t(t * kXStride + 2 * K)], &block[size_t(t * K)]);
        }
        std::vector<float> expect(size_t(T * (kRow1 - kRow0)));
        LinearRows(block.data(), T, w.m, kRow0, kRow1, expect.data(), options);
        std::vector<float> got(size_t(T * kYStride), -7.0f);
        LinearRowsStrided(&wide[size_t(K)], kXStride, T, w.m, kRow0, kRow1, &got[size_t(kCol0)], kYStride, options);
        for (int64_t t = 0; t < T; ++t) {
          for (int64_t j = 0; j < kYStride; ++j) {
            const float v = got[size_t(t * kYStride + j)];
            if (j >= kCol0 && j < kCol0 + (kRow1 - kRow0)) {
              ASSERT_EQ(v, expect[size_t(t * (kRow1 - kRow0) + j - kCol0)])
                  << DTypeName(dtype) << " aq=" << act_quant << " T=" << T << " t=" << t << " j=" << j;
            } else {
              ASSERT_EQ(v, -7.0f) << DTypeName(dtype) << " T=" << T << " wrote outside its block at " << j;
            }
          }
        }
      }
    }
  }
}

// Activations packed once (PackActivations) and multiplied by slices of rows
// (LinearRowsPacked) give LinearRows' bits, for every format the packed kernels take,
// with and without activation quantisation, over the paths a T selects (1, 3, 5, 70). Where
// packing does not apply (F32 weights, K not a multiple of 128 for FP4, values not
// bf16-exact, precise mode, the reference kernel set) PackActivations says so.
TEST(LinearRowsTest, PackedActivationsMatchLinearRows) {
  std::mt19937 rng(13);
  constexpr int64_t N = 40, K = 256, kRow0 = 5, kRow1 = 37;
  const bool packed_kernels = ActiveDotKernels().pack_bf16_acts != nullptr && !PreciseMath();
  for (DType dtype : {DType::kBF16, DType::kF8E4M3, DType::kI8}) {
    TestWeights w = MakeWeights(dtype, N, K, rng);
    for (bool act_quant : {true, false}) {
      const LinearOptions options{.act_quant = act_quant, .round_bf16 = act_quant};
      for (int64_t T : {1, 3, 5, 70}) {
        const std::vector<float> x = MakeActs(T, K, rng);
        PackedActivations packed;
        ASSERT_EQ(PackActivations(x.data(), T, K, dtype, act_quant, &packed), packed_kernels) << DTypeName(dtype);
        if (!packed_kernels) continue;
        std::vector<float> expect(size_t(T * (kRow1 - kRow0))), got(expect.size(), -1.0f);
        LinearRows(x.data(), T, w.m, kRow0, kRow1, expect.data(), options);
        LinearRowsPacked(packed, w.m, kRow0, kRow1, got.data(), options);
        for (size_t i = 0; i < got.size(); ++i) {
          ASSERT_EQ(got[i], expect[i]) << DTypeName(dtype) << " aq=" << act_quant << " T=" << T << " i=" << i;
        }
      }
    }
  }
  PackedActivations packed;
  std::vector<float> x = MakeActs(2, K, rng);
  EXPECT_FALSE(PackActivations(x.data(), 2, K, DType::kF32, false, &packed));
  EXPECT_FALSE(PackActivations(x.data(), 2, 96, DType::kI8, true, &packed));
  x[3] = 1.0f + std::ldexp(1.0f, -12);  // not bf16-exact: bf16 weights take x unquantised
  EXPECT_FALSE(PackActivations(x.data(), 2, K, DType::kBF16, false, &packed));
  const bool was_precise = PreciseMath();
  SetPreciseMath(true);
  EXPECT_FALSE(PackActivations(x.data(), 2, K, DType::kF8E4M3, true, &packed));
  SetPreciseMath(was_precise);
}

TEST(WeightBytesTest, CountsDataAndScales) {
  WeightMatrix w;
  w.rows = 300;
  w.cols = 256;
  w.dtype = DType::kBF16;
  EXPECT_EQ(w.bytes(), 300 * 256 * 2);
  w.dtype = DType::kF8E4M3;
  EXPECT_EQ(w.bytes(), 300 * 256 + 3 * 2);
  w.dtype = DType::kI8;
  EXPECT_EQ(w.bytes(), 300 * 128 + 300 * 8);
}

// ---- QuantizeActFp8 ----

bool IsPowerOfTwo(float s) {
  int e;
  return s > 0.0f && std::frexp(s, &e) == 0.5f;
}

TEST(QuantizeActFp8Test, ScalesAndValues) {
  std::mt19937 rng(99);
  const int64_t K = 128 * 8;
  for (int rep = 0; rep < 20; ++rep) {
    std::vector<float> x = MakeActs(1, K, rng);
    std::vector<float> q(K), s(K / 128);
    QuantizeActFp8(x.data(), K, q.data(), s.data());
    for (int64_t b = 0; b < K / 128; ++b) {
      float amax = 0.0f;
      for (int64_t i = 0; i < 128; ++i) amax = std::max(amax, std::fabs(x[b * 128 + i]));
      const double clamped = std::max<double>(amax, 1e-4);
      EXPECT_TRUE(IsPowerOfTwo(s[b])) << s[b];
      EXPECT_GE(double(s[b]) * 448.0, amax) << "block " << b;  // q never saturates
      EXPECT_LT(double(s[b]) * 0.5 * 448.0, clamped * (1 + 1e-6)) << "smallest such power";
      for (int64_t i = 0; i < 128; ++i) {
        const float qi = q[b * 128 + i], xi = x[b * 128 + i];
        EXPECT_LE(std::fabs(qi), 448.0f);
        EXPECT_EQ(RoundE4m3(qi), qi) << "q not e4m3-representable";
        EXPECT_EQ(E4m3ToFloat(FloatToE4m3(qi)), qi);
        EXPECT_EQ(qi, RoundE4m3(xi / s[b]));
        // Rounding error at most half an e4m3 step: 2^-4 relative, or 2^-10 absolute.
        EXPECT_LE(std::fabs(double(qi) - double(xi) / s[b]),
                  std::max(std::fabs(double(xi) / s[b]) * 0.0625, std::ldexp(1.0, -10)));
      }
    }
  }
}

TEST(QuantizeActFp8Test, AllZeroBlockClampsAmax) {
  std::vector<float> x(256, 0.0f), q(256, 1.0f), s(2);
  for (int i = 128; i < 256; ++i) x[i] = 1e-7f * float(i - 128);  // amax 1.27e-5 < 1e-4
  QuantizeActFp8(x.data(), 256, q.data(), s.data());
  // amax clamps to 1e-4: scale = smallest 2^k >= 1e-4/448 = 2.23e-7, i.e. 2^-22.
  EXPECT_EQ(s[0], std::ldexp(1.0f, -22));
  EXPECT_EQ(s[1], std::ldexp(1.0f, -22));
  for (int i = 0; i < 128; ++i) EXPECT_EQ(q[i], 0.0f);
  EXPECT_EQ(q[128 + 100], RoundE4m3(1e-5f / std::ldexp(1.0f, -22)));
}

TEST(QuantizeActFp8Test, ExactScales) {
  std::vector<float> x(384), q(384), s(3);
  for (int i = 0; i < 128; ++i) x[i] = E4m3ToFloat(uint8_t(i == 0 ? 0x7E : i % 0x7E));
  for (int i = 0; i < 128; ++i) x[128 + i] = (i == 5) ? -449.0f : 1.0f;
  for (int i = 0; i < 128; ++i) x[256 + i] = (i == 9) ? 224.0f : 0.5f;
  QuantizeActFp8(x.data(), 384, q.data(), s.data());
  EXPECT_EQ(s[0], 1.0f);  // amax 448
  for (int i = 0; i < 128; ++i) EXPECT_EQ(q[i], x[i]) << "e4m3 values pass through";
  EXPECT_EQ(s[1], 2.0f);           // amax 449
  EXPECT_EQ(q[128 + 5], -224.0f);  // 449/2 = 224.5 -> 224
  EXPECT_EQ(q[128], 0.5f);
  EXPECT_EQ(s[2], 0.5f);  // amax 224
  EXPECT_EQ(q[256 + 9], 448.0f);
}

}  // namespace
}  // namespace dsv4::kernels
