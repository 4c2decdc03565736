// The AMX products (kernels/linear_amx.h) on a blocked bf16 matrix, called directly:
// every output within the fp32 summation bound of the exact product, every row of every
// batch shape (token tiles of 16 and a tail) bit-identical to the same row at T = 1, row
// ranges that start and end inside blocks writing exactly their rows, and a matrix long
// enough for the far-apart block streams of T = 1. Skipped where the CPU (or DSV4_ISA) has
// no AMX.
#include "kernels/linear_amx.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/bf16_row_blocks.h"

namespace dsv4::kernels {
namespace {

std::vector<uint16_t> RandomBf16(int64_t n, float sd, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, sd);
  std::vector<uint16_t> v(static_cast<size_t>(n));
  for (auto& b : v) b = FloatToBf16(dist(rng));
  return v;
}

TEST(LinearAmxTest, BlockedBf16MatchesExactAndIsTheSameAtEveryT) {
  if (!AmxActive()) GTEST_SKIP() << "no AMX on this CPU (or DSV4_ISA caps it)";
  std::mt19937 rng(11);
  constexpr int64_t N = 75, K = 320;  // a partial last block; K / 32 odd (a lone last k step)
  const std::vector<uint16_t> w = RandomBf16(N * K, 0.05f, rng);
  std::vector<uint16_t> blocks(size_t(RowBlocksElements(N, K)));
  PackBf16RowBlocks(w.data(), N, K, blocks.data());
  WeightMatrix m{.dtype = DType::kBF16, .rows = N, .cols = K, .data = reinterpret_cast<const uint8_t*>(w.data())};
  m.row_blocks = blocks.data();
  constexpr int64_t kMaxT = 37;
  const std::vector<uint16_t> x = RandomBf16(kMaxT * K, 1.0f, rng);
  // T = 1 for every activation row: the reference bits, each within the fp32 bound.
  std::vector<float> single(size_t(kMaxT * N));
  for (int64_t t = 0; t < kMaxT; ++t) {
    LinearRowBlocksAmx(&x[size_t(t * K)], 1, m, 0, N, &single[size_t(t * N)], N, /*round_bf16=*/false);
    for (int64_t n = 0; n < N; ++n) {
      double sum = 0, abs_sum = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double p = double(Bf16ToFloat(x[size_t(t * K + k)])) * Bf16ToFloat(w[size_t(n * K + k)]);
        sum += p;
        abs_sum += std::fabs(p);
      }
      EXPECT_NEAR(single[size_t(t * N + n)], sum, 2.0 * double(K + 1) * std::ldexp(1.0, -24) * abs_sum)
          << "t " << t << " n " << n;
    }
  }
  for (int64_t T : {2, 15, 16, 17, 32, 37}) {
    std::vector<float> y(size_t(T * N), -1.0f);
    LinearRowBlocksAmx(x.data(), T, m, 0, N, y.data(), N, false);
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t n = 0; n < N; ++n) ASSERT_EQ(y[size_t(t * N + n)], single[size_t(t * N + n)]) << T << " " << t << " " << n;
    }
    // Rows [19, 61) into a wider output (ldy 50): those rows, the same bits, and nothing
    // written past them.
    constexpr int64_t r0 = 19, r1 = 61, ldy = 50;
    std::vector<float> part(size_t(T * ldy), 7.0f);
    LinearRowBlocksAmx(x.data(), T, m, r0, r1 - r0, part.data(), ldy, false);
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t n = 0; n < ldy; ++n) {
        const float want = n < r1 - r0 ? single[size_t(t * N + r0 + n)] : 7.0f;
        ASSERT_EQ(part[size_t(t * ldy + n)], want) << T << " " << t << " " << n;
      }
    }
    // round_bf16: the bf16 rounding of the same values.
    std::vector<float> rounded(size_t(T * N));
    LinearRowBlocksAmx(x.data(), T, m, 0, N, rounded.data(), N, true);
    for (int64_t i = 0; i < T * N; ++i) ASSERT_EQ(rounded[size_t(i)], RoundBf16(single[size_t(i)]));
  }
}

// A matrix of hundreds of blocks: at T = 1 each thread walks its range as four block
// streams far apart (not adjacent blocks as above); every row is still within the bound,
// and the bits of the same rows in a batch.
TEST(LinearAmxTest, ManyBlocksInFarApartStreams) {
  if (!AmxActive()) GTEST_SKIP() << "no AMX on this CPU (or DSV4_ISA caps it)";
  std::mt19937 rng(12);
  constexpr int64_t N = 16 * 300 + 7, K = 64;
  const std::vector<uint16_t> w = RandomBf16(N * K, 0.05f, rng);
  std::vector<uint16_t> blocks(size_t(RowBlocksElements(N, K)));
  PackBf16RowBlocks(w.data(), N, K, blocks.data());
  WeightMatrix m{.dtype = DType::kBF16, .rows = N, .cols = K, .data = reinterpret_cast<const uint8_t*>(w.data())};
  m.row_blocks = blocks.data();
  const std::vector<uint16_t> x = RandomBf16(3 * K, 1.0f, rng);
  std::vector<float> one(static_cast<size_t>(N)), three(static_cast<size_t>(3 * N));
  LinearRowBlocksAmx(x.data(), 1, m, 0, N, one.data(), N, false);
  LinearRowBlocksAmx(x.data(), 3, m, 0, N, three.data(), N, false);
  for (int64_t n = 0; n < N; ++n) {
    double sum = 0, abs_sum = 0;
    for (int64_t k = 0; k < K; ++k) {
      const double p = double(Bf16ToFloat(x[size_t(k)])) * Bf16ToFloat(w[size_t(n * K + k)]);
      sum += p;
      abs_sum += std::fabs(p);
    }
    ASSERT_NEAR(one[size_t(n)], sum, 2.0 * double(K + 1) * std::ldexp(1.0, -24) * abs_sum) << n;
    ASSERT_EQ(three[size_t(n)], one[size_t(n)]) << n;
  }
}

}  // namespace
}  // namespace dsv4::kernels
