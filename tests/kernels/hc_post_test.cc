// The hyper-connection post mix of one token: the SIMD version gives the reference's bits
// for every stream and dimension (tails of D % 16 included), and for special values
// (signed zeros, values that round to infinity, NaN, subnormals).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/hc_post.h"

namespace dsv4::kernels {
namespace {

TEST(HcPostRowTest, Avx512MatchesReferenceBitForBit) {
  const HcPostRowFn fast = HcPostRowAvx512();
  if (fast == nullptr) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t hc : {1, 4}) {
    for (int64_t D : {16, 48, 4096, 7, 4096 + 5}) {
      for (int trial = 0; trial < 3; ++trial) {
        std::vector<float> f(static_cast<size_t>(D)), x(static_cast<size_t>(hc * D)), comb(static_cast<size_t>(hc * hc)),
            post(static_cast<size_t>(hc));
        // bf16 activations over a wide range of magnitudes (as the model's), fp32 mixes.
        for (float& v : f) v = RoundBf16(normal(rng) * std::ldexp(1.0f, int(rng() % 30) - 15));
        for (float& v : x) v = RoundBf16(normal(rng) * std::ldexp(1.0f, int(rng() % 30) - 15));
        for (float& v : comb) v = std::fabs(normal(rng));
        for (float& v : post) v = 2.0f * std::fabs(normal(rng));
        if (trial == 2) {  // special values in the first dimensions
          const float inf = std::numeric_limits<float>::infinity();
          // (A NaN with low payload bits: plain rounding would carry into them.)
          const float payload_nan = std::bit_cast<float>(uint32_t(0x7f80ffffu));
          const float specials[] = {0.0f, -0.0f, std::numeric_limits<float>::quiet_NaN(), 3e38f, -3e38f,
                                    1e-40f, -inf, 1.0f, payload_nan};
          for (size_t i = 0; i < std::size(specials) && i < size_t(D); ++i) {
            x[i] = specials[i];
            f[i] = specials[(i + 3) % std::size(specials)];
          }
        }
        std::vector<float> want(size_t(hc * D), -1.0f), got(size_t(hc * D), -2.0f);
        HcPostRowRef(f.data(), x.data(), comb.data(), post.data(), hc, D, want.data());
        fast(f.data(), x.data(), comb.data(), post.data(), hc, D, got.data());
        for (int64_t i = 0; i < hc * D; ++i) {
          uint32_t a, b;
          std::memcpy(&a, &want[size_t(i)], 4);
          std::memcpy(&b, &got[size_t(i)], 4);
          ASSERT_EQ(a, b) << "hc " << hc << " D " << D << " trial " << trial << " at " << i;
        }
      }
    }
  }
}

// The reference is the arithmetic the model used before (a plain product: one stream that
// passes its input through with weight 1 and post 0 gives x rounded to bf16).
TEST(HcPostRowTest, ReferenceIdentityMix) {
  const std::vector<float> f = {5.0f, -7.0f}, x = {1.00390625f, -3.0f}, comb = {1.0f}, post = {0.0f};
  std::vector<float> out(2);
  HcPostRowRef(f.data(), x.data(), comb.data(), post.data(), 1, 2, out.data());
  EXPECT_EQ(out[0], RoundBf16(1.00390625f));
  EXPECT_EQ(out[1], -3.0f);
}

}  // namespace
}  // namespace dsv4::kernels
