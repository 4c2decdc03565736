// The decode GEMV (kernels/gemv.h): the AVX-512 version against the scalar reference
// (fp32 summation order only), and bit-identical to the avx512 bf16_rows_packed tile with
// one activation row and one weight row, which batched steps use for the same rows.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "kernels/dot.h"
#include "kernels/gemv.h"

namespace dsv4::kernels {
namespace {

struct Case {
  std::vector<uint16_t> x, w;
};

Case RandomCase(int64_t K, int64_t rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Case c;
  for (int64_t k = 0; k < K; ++k) c.x.push_back(FloatToBf16(normal(rng)));
  for (int64_t i = 0; i < K * rows; ++i) c.w.push_back(FloatToBf16(normal(rng) * 0.05f));
  return c;
}

TEST(GemvTest, ReferenceIsTheDotProduct) {
  // One-hot activation: out[i] is exactly w[i][k].
  const int64_t K = 96, rows = 5;
  Case c = RandomCase(K, rows, 1);
  for (int64_t hot : {0, 31, 95}) {
    std::vector<uint16_t> x(static_cast<size_t>(K), 0);
    x[size_t(hot)] = FloatToBf16(1.0f);
    std::vector<float> out(static_cast<size_t>(rows));
    Bf16GemvRef(x.data(), c.w.data(), K, rows, out.data());
    for (int64_t i = 0; i < rows; ++i) EXPECT_EQ(out[size_t(i)], Bf16ToFloat(c.w[size_t(i * K + hot)]));
  }
}

TEST(GemvTest, Avx512MatchesReferenceAndTheTileBitForBit) {
  const Bf16GemvFn simd = Bf16GemvAvx512();
  const DotKernels* tiles = Avx512DotKernels();
  if (simd == nullptr || tiles == nullptr) GTEST_SKIP() << "AVX-512 BF16 not available on this CPU";
  // 32 and 96: the 32-value tail after the 64-steps; rows: fewer than the 4 streams, and
  // 4 streams of 1 and 9 rows with 3 and 1 rows left over.
  for (auto [K, rows] : {std::pair<int64_t, int64_t>{32, 3}, {96, 7}, {128, 37}, {4096, 7}, {4096, 39}}) {
    Case c = RandomCase(K, rows, uint32_t(K));
    std::vector<float> ref(static_cast<size_t>(rows)), fast(static_cast<size_t>(rows), -1.0f);
    Bf16GemvRef(c.x.data(), c.w.data(), K, rows, ref.data());
    simd(c.x.data(), c.w.data(), K, rows, fast.data());
    std::vector<float> xf(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k) xf[size_t(k)] = Bf16ToFloat(c.x[size_t(k)]);
    std::vector<uint16_t> packed(static_cast<size_t>(K));
    tiles->pack_bf16_acts(xf.data(), K, PackedFormat::kBf16, packed.data());
    const uint16_t* xs[1] = {packed.data()};
    for (int64_t i = 0; i < rows; ++i) {
      double abs_sum = 0;
      for (int64_t k = 0; k < K; ++k) {
        abs_sum += std::fabs(double(Bf16ToFloat(c.x[size_t(k)])) * Bf16ToFloat(c.w[size_t(i * K + k)]));
      }
      EXPECT_NEAR(fast[size_t(i)], ref[size_t(i)], 1e-5 * abs_sum + 1e-6) << "K " << K << " rows " << rows << " row " << i;
      float tile = 0;
      tiles->bf16_rows_packed(xs, 1, &c.w[size_t(i * K)], K, 1, K, &tile);
      EXPECT_EQ(fast[size_t(i)], tile) << "K " << K << " row " << i;
    }
  }
}

}  // namespace
}  // namespace dsv4::kernels
