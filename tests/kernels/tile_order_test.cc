// Tile order (kernels/tile_order.h): FP8 and FP4 products through Linear give, for every
// batch size (the FMA kernels below kAmxMinTokens rows, AMX tiles from there), exactly the
// bits of the scalar model of the tiles' arithmetic below: per 512 values 16 tile steps of
// 16 k pairs (pair l of the decoder's 16 vectors), E and O are FMA chains over the pairs,
// c takes E + O step by step,
// denormal inputs and results flushed. Rows whose scales do not fold into bf16 (taken by
// the FMA kernels at every batch size) included. On AMX this also checks the hardware
// against the model. Skipped where tile order is off (no AMX, DSV4_ISA, DSV4_TILE_ORDER=0).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/linear.h"
#include "kernels/precision.h"
#include "kernels/tile_order.h"
#include "test_weights.h"

namespace dsv4::kernels {
namespace {

// Denormals to (signed) zero: DAZ on inputs, FTZ on results.
float Flush(float v) { return std::fabs(v) < 0x1p-126f ? std::copysign(0.0f, v) : v; }

// The natural k of position p of a 64-value chunk in the packed e4m3 order (the order of
// DecodeE4m3x64's words: codes 16L + 0..7 of each 128-bit lane L in the first 32 words,
// 16L + 8..15 in the last 32).
int64_t E4m3PackedK(int64_t p) {
  const int64_t q = p % 32;
  return 16 * (q / 8) + (p >= 32 ? 8 : 0) + q % 8;
}

// The model: row n of w against activation row x (natural order).
float TileOrderDot(const WeightMatrix& w, int64_t n, const float* x) {
  const int64_t K = w.cols;
  // The natural k of step l's pair i (odd: its second value) in group g: pair l of V_i,
  // FP8 packed values 32 i + 2 l (+ 1) of the group, FP4 values 2 l (+ 1) of scale block
  // kE2m1TileBlock[i].
  auto k_of = [&](int64_t g, int64_t i, int64_t l, int odd) -> int64_t {
    if (w.dtype == DType::kI8) return g + 32 * kE2m1TileBlock[i] + 2 * l + odd;
    const int64_t p = g + 32 * i + 2 * l + odd;
    return p / 64 * 64 + E4m3PackedK(p % 64);
  };
  auto weight = [&](int64_t k) {
    float v, s;
    if (w.dtype == DType::kI8) {
      const uint8_t b = w.data[n * (K / 2) + k / 2];
      v = E2m1ToFloat((k & 1) ? b >> 4 : b & 15);
      s = Ue8m0ToFloat(w.scale[n * (K / 32) + k / 32]);
    } else {
      v = E4m3ToFloat(w.data[n * K + k]);
      s = Ue8m0ToFloat(w.scale[(n / 128) * (K / 128) + k / 128]);
    }
    return Flush(v * Flush(s));
  };
  float c = 0.0f;
  for (int64_t g = 0; g < K; g += kTileOrderGroup) {
    for (int64_t l = 0; l < 16; ++l) {
      float e = 0.0f, o = 0.0f;
      for (int64_t i = 0; i < 16; ++i) {
        const int64_t ke = k_of(g, i, l, 0), ko = k_of(g, i, l, 1);
        e = Flush(std::fma(weight(ke), Flush(x[ke]), e));
        o = Flush(std::fma(weight(ko), Flush(x[ko]), o));
      }
      c = Flush(c + Flush(e + o));
    }
  }
  return c;
}

// LinearRows over rows [r0, r1) of m for the T activation rows x: every output equal bit
// for bit to the model (where the model gives NaN, with nan_any: any NaN).
void ExpectModelBits(const WeightMatrix& m, const std::vector<float>& x, int64_t T, int64_t r0, int64_t r1,
                     const std::string& what, bool nan_any = false) {
  const int64_t K = m.cols, n_rows = r1 - r0;
  std::vector<float> y(size_t(T * n_rows), -7.0f);
  LinearRows(x.data(), T, m, r0, r1, y.data(), LinearOptions{.act_quant = false, .round_bf16 = false});
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t n = r0; n < r1; ++n) {
      const float want = TileOrderDot(m, n, &x[size_t(t * K)]);
      const float got = y[size_t(t * n_rows + n - r0)];
      if (nan_any && std::isnan(want)) {
        EXPECT_TRUE(std::isnan(got)) << what << " T " << T << " t " << t << " n " << n << ": " << got;
        continue;
      }
      ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want))
          << what << " T " << T << " t " << t << " n " << n << ": " << got << " vs " << want;
    }
  }
}

// T rows of K bf16-exact activations drawn from dist.
std::vector<float> RandomBf16Rows(int64_t T, int64_t K, std::normal_distribution<float>& dist, std::mt19937& rng) {
  std::vector<float> x(size_t(T * K));
  for (auto& v : x) v = RoundBf16(dist(rng));
  return x;
}

class TileOrderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TileOrderActive() || PreciseMath()) GTEST_SKIP() << "tile order is off (no AMX, DSV4_ISA or DSV4_TILE_ORDER=0)";
  }
};

TEST_F(TileOrderTest, EveryBatchSizeGivesTheModelsBits) {
  std::mt19937 rng(31);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-12, 8);
  for (DType dtype : {DType::kF8E4M3, DType::kI8}) {
    const int64_t N = dtype == DType::kF8E4M3 ? 260 : 50, K = 1024;
    TestWeights w = MakeWeights(dtype, N, K, rng);
    // Scales that do not fold into bf16 exponents: FP8 the third 128-row block's first
    // column block (2^-122: small codes become denormal), FP4 row 7's block 5 (2^-126)
    // and row 9's block 2 (ue8m0 0: the subnormal 2^-127, flushed, so the block adds 0).
    if (dtype == DType::kF8E4M3) {
      w.scale[2 * (K / 128)] = 5;
    } else {
      w.scale[7 * (K / 32) + 5] = 1;
      w.scale[9 * (K / 32) + 2] = 0;
    }
    const int64_t r0 = dtype == DType::kF8E4M3 ? 120 : 3, r1 = N - 2;  // across panels and row blocks
    for (int64_t T : {1, 2, 3, 5, 7, 8, 16, 17, 40}) {
      std::vector<float> x(size_t(T * K));
      for (auto& v : x) v = RoundBf16(std::ldexp(dist(rng), exponent(rng)));
      x[3] = 0x1p-130f;  // a denormal activation: flushed
      ASSERT_NO_FATAL_FAILURE(ExpectModelBits(w.m, x, T, r0, r1, DTypeName(dtype)));
    }
  }
}

// FP8 batches of up to 16 rows put the block scales on the activations (linear_amx.cc):
// where that would take an activation out of the normal bf16 range (here 2^-120 times the
// first row block's 2^-10) the row block takes the FMA kernels, the same bits either way.
TEST_F(TileOrderTest, ActivationsTheScalesWouldPushOutOfRange) {
  std::mt19937 rng(8);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int64_t N = 256, K = 512;
  TestWeights w = MakeWeights(DType::kF8E4M3, N, K, rng);
  w.scale[0] = 117;  // row block 0, column block 0: 2^-10
  for (int64_t T : {3, 8, 16}) {
    std::vector<float> x = RandomBf16Rows(T, K, dist, rng);
    for (int64_t t = 0; t < T; ++t) x[size_t(t * K + 5)] = 0x1p-120f;
    ASSERT_NO_FATAL_FAILURE(ExpectModelBits(w.m, x, T, 0, N, "FP8"));
  }
}

// An infinite activation: no row block may put its scale on it (an exponent add would make
// it finite), so they all take the FMA kernels, whose products give the model's inf / NaN.
TEST_F(TileOrderTest, NonFiniteActivationsKeepTheModelsResult) {
  std::mt19937 rng(21);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int64_t N = 256, K = 512;
  TestWeights w = MakeWeights(DType::kF8E4M3, N, K, rng);
  w.scale[0] = 124;  // row block 0, column block 0: 2^-3 (an exponent add of -3)
  for (int64_t T : {3, 16}) {
    std::vector<float> x = RandomBf16Rows(T, K, dist, rng);
    x[7] = std::numeric_limits<float>::infinity();  // token 0, column block 0
    ASSERT_NO_FATAL_FAILURE(ExpectModelBits(w.m, x, T, 0, N, "FP8", /*nan_any=*/true));
  }
}

// Row blocks that take the FMA kernels between ones that take the tiles: the products
// still pending from one when the next's scales go on the activations keep its own. (Every
// other row block of 18, so that each thread's share of the panels holds such a gap.)
TEST_F(TileOrderTest, RowBlocksBetweenOnesOnTheTiles) {
  std::mt19937 rng(12);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int64_t N = 18 * 128, K = 512;
  TestWeights w = MakeWeights(DType::kF8E4M3, N, K, rng);
  for (int64_t rb = 1; rb < N / 128; rb += 2) w.scale[size_t(rb * (K / 128) + 3)] = 5;  // does not fold
  for (int64_t T : {3, 16}) {
    std::vector<float> x = RandomBf16Rows(T, K, dist, rng);
    ASSERT_NO_FATAL_FAILURE(ExpectModelBits(w.m, x, T, 0, N, "FP8"));
  }
}

// A ue8m0 scale of 0 (the subnormal 2^-127) flushes to zero as the tiles have it: its
// blocks add nothing however large their activations (unflushed, 6 x 2^-127 is a normal
// 1.5 x 2^-125 and 2^100 activations would show it).
TEST_F(TileOrderTest, SubnormalScaleBlocksAddZero) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int64_t N = 8, K = 512;
  TestWeights w = MakeWeights(DType::kI8, N, K, rng);
  for (int64_t b = 0; b < K / 32; ++b) w.scale[size_t(2 * (K / 32) + b)] = 0;  // row 2: every block
  for (int64_t T : {1, 5}) {
    std::vector<float> x(size_t(T * K));
    for (auto& v : x) v = RoundBf16(std::ldexp(dist(rng), 100));
    std::vector<float> y(size_t(T * N), -7.0f);
    LinearRows(x.data(), T, w.m, 2, 3, y.data(), LinearOptions{.act_quant = false, .round_bf16 = false});
    for (int64_t t = 0; t < T; ++t) {
      ASSERT_EQ(TileOrderDot(w.m, 2, &x[size_t(t * K)]), 0.0f);
      ASSERT_EQ(std::bit_cast<uint32_t>(y[size_t(t)]), 0u) << "T " << T << " t " << t << ": " << y[size_t(t)];
    }
  }
}

}  // namespace
}  // namespace dsv4::kernels
