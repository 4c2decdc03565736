// The hyper-connection mixes of one token (post mix, weighted sum): the SIMD versions give
// the references' bits for every stream and dimension (tails of D % 16 included), and for
// special values (signed zeros, values that round to infinity, NaN, subnormals).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/hc_mix.h"

namespace dsv4::kernels {
namespace {

void ExpectSameBits(const std::vector<float>& want, const std::vector<float>& got, const char* what, int64_t hc,
                    int64_t D, int trial) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    uint32_t a, b;
    std::memcpy(&a, &want[i], 4);
    std::memcpy(&b, &got[i], 4);
    ASSERT_EQ(a, b) << what << ": hc " << hc << " D " << D << " trial " << trial << " at " << i;
  }
}

TEST(HcMixTest, Avx512MatchesReferenceBitForBit) {
  const HcPostRowFn fast = HcPostRowAvx512();
  const HcSumRowFn fast_sum = HcSumRowAvx512();
  if (fast == nullptr || fast_sum == nullptr) GTEST_SKIP() << "no AVX-512 on this CPU";
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
        ExpectSameBits(want, got, "post mix", hc, D, trial);
        // The weighted sum with the first stream of comb's columns as weights.
        std::vector<float> want_sum(static_cast<size_t>(D), -1.0f), got_sum(static_cast<size_t>(D), -2.0f);
        HcSumRowRef(x.data(), comb.data(), hc, D, want_sum.data());
        fast_sum(x.data(), comb.data(), hc, D, got_sum.data());
        ExpectSameBits(want_sum, got_sum, "weighted sum", hc, D, trial);
      }
    }
  }
}

// The references on hand-checked values: one stream passed through with weight 1 and post 0
// gives x rounded to bf16; two streams with weights 1 and 2 give x0 + 2 x1, rounded.
TEST(HcMixTest, ReferencesOnSmallCases) {
  const std::vector<float> f = {5.0f, -7.0f}, x = {1.00390625f, -3.0f}, comb = {1.0f}, post = {0.0f};
  std::vector<float> out(2);
  HcPostRowRef(f.data(), x.data(), comb.data(), post.data(), 1, 2, out.data());
  EXPECT_EQ(out[0], RoundBf16(1.00390625f));
  EXPECT_EQ(out[1], -3.0f);
  const std::vector<float> x2 = {1.0f, 0.5f, 0.25f, -1.0f}, w2 = {1.0f, 2.0f};
  HcSumRowRef(x2.data(), w2.data(), 2, 2, out.data());
  EXPECT_EQ(out[0], 1.5f);   // 1 + 2 * 0.25
  EXPECT_EQ(out[1], -1.5f);  // 0.5 + 2 * -1
}

}  // namespace
}  // namespace dsv4::kernels
