// The block quantisation helpers in their vectorisable forms (RoundE2m1 without branches,
// AbsMax on bit patterns, SimulateFp4Blocks, EncodeFp4Key's block codes) against the
// straightforward definitions they replaced, bit for bit, NaN, infinities, signed zeros
// and the rounding thresholds included.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "model/forward/kv_codec.h"
#include "model/forward/ops.h"

namespace dsv4 {
namespace {

float RoundE2m1Chain(float x) {
  float a = std::fabs(x);
  float r;
  if (a <= 0.25f) r = 0.0f;
  else if (a < 0.75f) r = 0.5f;
  else if (a <= 1.25f) r = 1.0f;
  else if (a < 1.75f) r = 1.5f;
  else if (a <= 2.5f) r = 2.0f;
  else if (a < 3.5f) r = 3.0f;
  else if (a <= 5.0f) r = 4.0f;
  else r = 6.0f;
  return std::signbit(x) ? -r : r;
}

float AbsMaxFold(const float* x, int64_t n) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  return amax;
}

void SimulateFp4Fold(float* x, int64_t n, int64_t block) {
  for (int64_t b = 0; b < n; b += block) {
    const float s = Fp4Scale(AbsMaxFold(x + b, block));
    for (int64_t i = 0; i < block; ++i) {
      x[b + i] = RoundBf16(RoundE2m1Chain(std::clamp(x[b + i] / s, -kFp4Max, kFp4Max)) * s);
    }
  }
}

bool SameBits(float a, float b) { return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b); }

// Values around every threshold and grid point, special values, and random ones.
std::vector<float> TestValues() {
  std::vector<float> v = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 1e-40f, -1e-40f, 7.0f, -100.0f};
  for (float t : {0.25f, 0.5f, 0.75f, 1.0f, 1.25f, 1.5f, 1.75f, 2.0f, 2.5f, 3.0f, 3.5f, 4.0f, 5.0f, 6.0f}) {
    for (float s : {1.0f, -1.0f}) {
      v.push_back(s * t);
      v.push_back(s * std::nextafter(t, 0.0f));
      v.push_back(s * std::nextafter(t, 10.0f));
    }
  }
  std::mt19937 rng(31);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (int i = 0; i < 4000; ++i) v.push_back(normal(rng) * std::ldexp(1.0f, int(rng() % 60) - 30));
  return v;
}

TEST(BlockQuantTest, RoundE2m1EqualsTheBranchChain) {
  for (float x : TestValues()) EXPECT_TRUE(SameBits(RoundE2m1(x), RoundE2m1Chain(x))) << x;
}

TEST(BlockQuantTest, AbsMaxEqualsTheMaxFold) {
  const std::vector<float> v = TestValues();
  for (size_t n = 0; n <= 40; ++n) {
    for (size_t at = 0; at + n <= v.size(); at += 97) {
      EXPECT_TRUE(SameBits(AbsMax(v.data() + at, int64_t(n)), AbsMaxFold(v.data() + at, int64_t(n)))) << at << " " << n;
    }
  }
}

TEST(BlockQuantTest, SimulateFp4BlocksEqualsTheFold) {
  const std::vector<float> v = TestValues();
  const int64_t n = int64_t(v.size()) / 32 * 32;
  std::vector<float> got(v.begin(), v.begin() + n), want = got;
  SimulateFp4Blocks(got.data(), n, 32);
  SimulateFp4Fold(want.data(), n, 32);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_TRUE(SameBits(got[size_t(i)], want[size_t(i)]) || (std::isnan(got[size_t(i)]) && std::isnan(want[size_t(i)])))
        << i << ": " << v[size_t(i)];
  }
}

TEST(BlockQuantTest, EncodeFp4KeyEqualsThePerValueCodes) {
  std::mt19937 rng(32);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int rep = 0; rep < 200; ++rep) {
    std::vector<float> v(128);
    for (float& x : v) x = RoundBf16(normal(rng) * std::ldexp(1.0f, int(rng() % 20) - 10));
    if (rep % 7 == 0) v[5] = -0.0f;
    SimulateFp4Blocks(v.data(), 128, 32);  // onto the Q4_32 grid, as the indexer's values
    std::vector<uint8_t> codes(64), scales(4);
    EncodeFp4Key(v.data(), 128, codes.data(), scales.data());
    for (int64_t b = 0; b < 4; ++b) {
      const float s = Fp4Scale(AbsMaxFold(v.data() + 32 * b, 32));
      EXPECT_EQ(scales[size_t(b)], Ue8m0Code(s));
      for (int64_t i = 32 * b; i < 32 * b + 32; i += 2) {
        const uint8_t want = uint8_t(ExactE2m1Code(v[size_t(i)] / s) | (ExactE2m1Code(v[size_t(i + 1)] / s) << 4));
        ASSERT_EQ(codes[size_t(i / 2)], want) << rep << " " << i;
      }
    }
  }
}

TEST(BlockQuantTest, EncodeFp4KeyRejectsAValueOffTheGrid) {
  std::vector<float> v(32, 1.0f);
  v[7] = 1.25f;  // between 1 and 1.5 at scale 1 (amax 1.25: scale 2^-2... still off the grid)
  std::vector<uint8_t> codes(16), scales(1);
  EXPECT_THROW(EncodeFp4Key(v.data(), 32, codes.data(), scales.data()), Error);
  v[7] = NAN;
  EXPECT_THROW(EncodeFp4Key(v.data(), 32, codes.data(), scales.data()), Error);
}

}  // namespace
}  // namespace dsv4
