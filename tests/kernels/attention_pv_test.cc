// Attention P·V block sums: the AVX2 kernel is bit-identical to the scalar reference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/attention_pv.h"

namespace dsv4::kernels {
namespace {

TEST(AttentionPvTest, Avx2IsBitIdenticalToReference) {
  const AttentionPvFn avx2 = AttentionPvAvx2();
  if (!avx2) GTEST_SKIP() << "no AVX2";
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t d : {16, 96, 144, 512, 20}) {  // 20: a tail of 4 dims
    for (int64_t n : {0, 1, 17, 64}) {
      std::vector<std::vector<uint16_t>> rows(static_cast<size_t>(n));
      std::vector<const uint16_t*> ptrs;
      std::vector<float> p;
      for (auto& r : rows) {
        for (int64_t i = 0; i < d; ++i) r.push_back(FloatToBf16(normal(rng) * std::ldexp(1.0f, int(rng() % 40) - 20)));
        ptrs.push_back(r.data());
        // Probabilities across a wide range, subnormal ones included.
        p.push_back(RoundBf16(std::exp(-float(rng() % 100))));
      }
      std::vector<double> ref(static_cast<size_t>(d), -1.0), fast(static_cast<size_t>(d), -2.0);
      AttentionPvRef(p.data(), ptrs.data(), n, d, ref.data());
      avx2(p.data(), ptrs.data(), n, d, fast.data());
      for (int64_t i = 0; i < d; ++i) ASSERT_EQ(ref[size_t(i)], fast[size_t(i)]) << "d " << d << " n " << n << " i " << i;
    }
  }
}

}  // namespace
}  // namespace dsv4::kernels
