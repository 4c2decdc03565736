// AVX2 dot kernels vs the scalar reference kernels (kernels/dot.h).
// Sums are taken in a different order, so random-data tests allow the worst-case fp32
// summation error of both sides, 2 * n * 2^-24 * sum |x * w|; decoding and lane order
// are checked exactly with one-hot activations, where each dot product is a single term.
#include "kernels/dot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace dsv4::kernels {
namespace {

class DotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    avx2_ = Avx2DotKernels();
    if (avx2_ == nullptr) GTEST_SKIP() << "AVX2+FMA kernels not available on this CPU/build";
  }

  std::vector<float> RandomX(int64_t n) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = RoundBf16(dist(rng_));
    return x;
  }

  // Allowed |avx2 - ref|: both are within n * 2^-24 * sum|terms| of the exact sum.
  static double Tolerance(int64_t n, double abs_sum) {
    return 2.0 * double(n + 1) * std::ldexp(1.0, -24) * abs_sum + 1e-30;
  }

  const DotKernels& ref_ = RefDotKernels();
  const DotKernels* avx2_ = nullptr;
  std::mt19937 rng_{1234};
};

TEST_F(DotTest, IsaName) { EXPECT_EQ(std::string(avx2_->isa), "avx2"); }

TEST_F(DotTest, Bf16RandomLengths) {
  std::normal_distribution<float> dist(0.0f, 0.05f);
  for (int64_t n = 1; n <= 300; ++n) {
    for (int rep = 0; rep < 3; ++rep) {
      std::vector<float> x = RandomX(n);
      std::vector<uint16_t> w(static_cast<size_t>(n));
      double abs_sum = 0.0;
      for (int64_t k = 0; k < n; ++k) {
        w[k] = FloatToBf16(dist(rng_));
        abs_sum += std::fabs(double(x[k]) * Bf16ToFloat(w[k]));
      }
      float want = ref_.dot_bf16(x.data(), w.data(), n);
      float got = avx2_->dot_bf16(x.data(), w.data(), n);
      ASSERT_NEAR(got, want, Tolerance(n, abs_sum)) << "n=" << n;
    }
  }
}

TEST_F(DotTest, F32RandomLengths) {
  std::normal_distribution<float> dist(0.0f, 0.05f);
  for (int64_t n = 1; n <= 300; ++n) {
    for (int rep = 0; rep < 3; ++rep) {
      std::vector<float> x = RandomX(n);
      std::vector<float> w(static_cast<size_t>(n));
      double abs_sum = 0.0;
      for (int64_t k = 0; k < n; ++k) {
        w[k] = dist(rng_);
        abs_sum += std::fabs(double(x[k]) * w[k]);
      }
      float want = ref_.dot_f32(x.data(), w.data(), n);
      float got = avx2_->dot_f32(x.data(), w.data(), n);
      ASSERT_NEAR(got, want, Tolerance(n, abs_sum)) << "n=" << n;
    }
  }
}

// The AVX-512 set's fp32 dot is the AVX2 kernel's arithmetic in wider registers: the same
// bits for every length (the 8-value steps and the masked tail included), also where sums
// cancel to -0 / +0.
TEST_F(DotTest, F32Avx512SameBitsAsAvx2) {
  const DotKernels* avx512 = Avx512DotKernels();
  if (avx512 == nullptr) GTEST_SKIP() << "AVX-512 kernels not available on this CPU/build";
  std::normal_distribution<float> dist(0.0f, 0.05f);
  for (int64_t n : {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 47, 63, 64, 65, 100, 255, 300, 4096, 16384, 16391}) {
    for (int rep = 0; rep < 4; ++rep) {
      std::vector<float> x = RandomX(n), w(static_cast<size_t>(n));
      for (float& v : w) v = dist(rng_);
      if (rep == 3) {  // products that cancel: -0 and +0 partial sums
        for (int64_t k = 0; k < n; ++k) w[size_t(k)] = k % 2 == 0 ? -0.0f : 0.0f;
      }
      const float a = avx2_->dot_f32(x.data(), w.data(), n), b = avx512->dot_f32(x.data(), w.data(), n);
      EXPECT_EQ(std::bit_cast<uint32_t>(b), std::bit_cast<uint32_t>(a)) << "n=" << n << " rep=" << rep;
    }
  }
}

// Every element position of every length reads the right weight, bit-exactly.
TEST_F(DotTest, Bf16AndF32OneHotExact) {
  for (int64_t n : {1, 5, 8, 13, 16, 31, 32, 33, 64, 71, 100, 257}) {
    for (int64_t p = 0; p < n; ++p) {
      std::vector<float> x(size_t(n), 0.0f), wf(size_t(n), 0.0f);
      std::vector<uint16_t> wb(size_t(n), 0);
      x[p] = 1.5f;
      wb[p] = FloatToBf16(-0.3f - float(p));
      wf[p] = -0.3f - float(p);
      EXPECT_EQ(avx2_->dot_bf16(x.data(), wb.data(), n), 1.5f * Bf16ToFloat(wb[p]))
          << "n=" << n << " p=" << p;
      EXPECT_EQ(avx2_->dot_f32(x.data(), wf.data(), n), 1.5f * wf[p]) << "n=" << n << " p=" << p;
    }
  }
}

// Each e4m3 code alone (n = 1) decodes exactly, NaN codes give NaN.
TEST_F(DotTest, E4m3EveryCodeExact) {
  for (int c = 0; c < 256; ++c) {
    const float x = 1.25f;
    const uint8_t w = uint8_t(c);
    float want = ref_.dot_e4m3(&x, &w, 1);
    float got = avx2_->dot_e4m3(&x, &w, 1);
    if ((c & 0x7F) == 0x7F) {
      EXPECT_TRUE(std::isnan(got)) << "code " << c;
    } else {
      EXPECT_EQ(got, want) << "code " << c;
      EXPECT_EQ(got, 1.25f * E4m3ToFloat(w)) << "code " << c;
    }
  }
}

TEST_F(DotTest, E4m3OneHotExact) {
  for (int64_t n = 1; n <= 128; ++n) {
    for (int64_t p = 0; p < n; ++p) {
      std::vector<float> x(size_t(n), 0.0f);
      std::vector<uint8_t> w(size_t(n), 0);
      x[p] = -0.75f;
      w[p] = uint8_t((p * 37 + n) % 256);
      if ((w[p] & 0x7F) == 0x7F) w[p] = 0x01;
      ASSERT_EQ(avx2_->dot_e4m3(x.data(), w.data(), n), -0.75f * E4m3ToFloat(w[p]))
          << "n=" << n << " p=" << p;
    }
  }
}

// A NaN code anywhere in the block poisons the sum, as in the reference.
TEST_F(DotTest, E4m3NanPropagates) {
  for (int64_t n : {1, 7, 16, 17, 100, 128}) {
    for (uint8_t nan : {uint8_t(0x7F), uint8_t(0xFF)}) {
      std::vector<float> x = RandomX(n);
      std::vector<uint8_t> w(size_t(n), 0x38);
      w[size_t(n - 1)] = nan;
      EXPECT_TRUE(std::isnan(avx2_->dot_e4m3(x.data(), w.data(), n))) << "n=" << n;
    }
  }
}

// codes(k) picks the weight codes; random activations; every length 1..128.
template <typename CodeFn>
void CompareE4m3(const DotKernels& ref, const DotKernels& avx2, std::mt19937& rng, CodeFn codes) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t n = 1; n <= 128; ++n) {
    for (int rep = 0; rep < 4; ++rep) {
      std::vector<float> x(static_cast<size_t>(n));
      std::vector<uint8_t> w(static_cast<size_t>(n));
      double abs_sum = 0.0;
      for (int64_t k = 0; k < n; ++k) {
        x[k] = RoundBf16(dist(rng));
        w[k] = codes(rng);
        abs_sum += std::fabs(double(x[k]) * E4m3ToFloat(w[k]));
      }
      float want = ref.dot_e4m3(x.data(), w.data(), n);
      float got = avx2.dot_e4m3(x.data(), w.data(), n);
      ASSERT_NEAR(got, want, 2.0 * double(n + 1) * std::ldexp(1.0, -24) * abs_sum + 1e-30)
          << "n=" << n;
    }
  }
}

TEST_F(DotTest, E4m3RandomCodes) {
  CompareE4m3(ref_, *avx2_, rng_, [](std::mt19937& rng) {
    uint8_t c;
    do c = uint8_t(rng());
    while ((c & 0x7F) == 0x7F);
    return c;
  });
}

TEST_F(DotTest, E4m3SubnormalCodes) {  // 0x00..0x07 and 0x80..0x87 only
  CompareE4m3(ref_, *avx2_, rng_, [](std::mt19937& rng) {
    uint32_t r = rng();
    return uint8_t((r & 7) | (r & 0x80));
  });
}

TEST_F(DotTest, E4m3AllCodesShuffled) {
  std::vector<uint8_t> all;
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7F) != 0x7F) all.push_back(uint8_t(c));
  }
  for (int rep = 0; rep < 20; ++rep) {
    std::shuffle(all.begin(), all.end(), rng_);
    for (size_t off = 0; off < all.size(); off += 128) {
      int64_t n = int64_t(std::min<size_t>(128, all.size() - off));
      std::vector<float> x = RandomX(n);
      double abs_sum = 0.0;
      for (int64_t k = 0; k < n; ++k)
        abs_sum += std::fabs(double(x[k]) * E4m3ToFloat(all[off + k]));
      float want = ref_.dot_e4m3(x.data(), &all[off], n);
      float got = avx2_->dot_e4m3(x.data(), &all[off], n);
      ASSERT_NEAR(got, want, Tolerance(n, abs_sum)) << "n=" << n;
    }
  }
}

// Every nibble at every one of the 32 positions decodes exactly and in order.
TEST_F(DotTest, E2m1OneHotExact) {
  for (int p = 0; p < 32; ++p) {
    for (int c = 0; c < 16; ++c) {
      float x[32] = {};
      uint8_t w[16] = {};
      x[p] = 1.25f;
      w[p / 2] = uint8_t((p & 1) ? c << 4 : c);
      EXPECT_EQ(avx2_->dot_e2m1_32(x, w), 1.25f * E2m1ToFloat(uint8_t(c)))
          << "p=" << p << " nibble=" << c;
      EXPECT_EQ(avx2_->dot_e2m1_32(x, w), ref_.dot_e2m1_32(x, w));
    }
  }
}

TEST_F(DotTest, E2m1EveryByteAndRandom) {
  for (int rep = 0; rep < 2000; ++rep) {
    std::vector<float> x = RandomX(32);
    uint8_t w[16];
    for (int j = 0; j < 16; ++j) w[j] = rep < 256 ? uint8_t(rep) : uint8_t(rng_());
    double abs_sum = 0.0;
    for (int j = 0; j < 16; ++j) {
      abs_sum += std::fabs(double(x[2 * j]) * E2m1ToFloat(w[j] & 15));
      abs_sum += std::fabs(double(x[2 * j + 1]) * E2m1ToFloat(w[j] >> 4));
    }
    float want = ref_.dot_e2m1_32(x.data(), w);
    float got = avx2_->dot_e2m1_32(x.data(), w);
    ASSERT_NEAR(got, want, Tolerance(32, abs_sum)) << "rep=" << rep;
  }
}

// Tails use only [x, x + n) and [w, w + n): whatever follows the operands (NaN here)
// must not reach the sum.
TEST_F(DotTest, NoReadsPastTheEnd) {
  for (int64_t n : {1, 3, 9, 15, 17, 31, 45, 127, 128}) {
    std::vector<float> xs(size_t(n) + 64, 1.0f);
    std::vector<uint8_t> wb(size_t(n) + 64, 0x38);
    float* x = xs.data();
    uint8_t* w = wb.data();
    for (int64_t k = n; k < n + 64; ++k) {
      x[k] = NAN;
      w[k] = 0x7F;
    }
    EXPECT_EQ(avx2_->dot_e4m3(x, w, n), float(n)) << n;
    std::vector<float> wf(size_t(n) + 64, 1.0f);
    std::vector<uint16_t> w16(size_t(n) + 64, 0x3F80);
    for (int64_t k = n; k < n + 64; ++k) {
      wf[k] = NAN;
      w16[k] = 0x7FC0;
    }
    EXPECT_EQ(avx2_->dot_f32(x, wf.data(), n), float(n)) << n;
    EXPECT_EQ(avx2_->dot_bf16(x, w16.data(), n), float(n)) << n;
  }
}

// The whole-row FP4 kernel is, by definition, the sequential fp32 sum of scaled per-32
// partials: bit-identical to calling the chunk kernel of the same ISA in a loop, and
// within fp32 summation error of the reference.
TEST_F(DotTest, E2m1RowIsTheSequentialSumOfChunks) {
  std::uniform_int_distribution<int> byte(0, 255), exponent(-3, 3);
  for (int64_t chunks : {1, 2, 5, 16, 64}) {
    std::vector<float> x = RandomX(32 * chunks), scales(static_cast<size_t>(chunks));
    std::vector<uint8_t> w(size_t(16 * chunks));
    for (auto& b : w) b = uint8_t(byte(rng_));
    for (auto& s : scales) s = std::ldexp(1.0f, exponent(rng_));
    for (const DotKernels* k : {&ref_, avx2_}) {
      float want = 0.0f;
      for (int64_t c = 0; c < chunks; ++c) want += k->dot_e2m1_32(&x[size_t(32 * c)], &w[size_t(16 * c)]) * scales[size_t(c)];
      EXPECT_EQ(k->dot_e2m1_row(x.data(), w.data(), scales.data(), chunks), want) << k->isa << " " << chunks;
    }
    double abs_sum = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      for (int j = 0; j < 32; ++j) {
        uint8_t nib = (w[size_t(16 * c + j / 2)] >> (4 * (j & 1))) & 15;
        abs_sum += std::fabs(double(x[size_t(32 * c + j)]) * E2m1ToFloat(nib) * scales[size_t(c)]);
      }
    }
    EXPECT_NEAR(avx2_->dot_e2m1_row(x.data(), w.data(), scales.data(), chunks),
                ref_.dot_e2m1_row(x.data(), w.data(), scales.data(), chunks),
                Tolerance(32 * chunks, abs_sum));
  }
}

// The e4m3 kernel is exactly dot_f32 over the codes decoded to e4m3 · 2^-8, times 2^8:
// the identity its F16C decoding relies on.
TEST_F(DotTest, E4m3EqualsF32OnDecodedBlock) {
  std::uniform_int_distribution<int> byte(0, 255);
  for (const DotKernels* k : {&ref_, avx2_}) {
    for (int trial = 0; trial < 50; ++trial) {
      std::vector<float> x = RandomX(128), decoded(128);
      std::vector<uint8_t> w(128);
      for (int i = 0; i < 128; ++i) {
        do w[size_t(i)] = uint8_t(byte(rng_)); while ((w[size_t(i)] & 0x7F) == 0x7F);
        decoded[size_t(i)] = E4m3ToFloat(w[size_t(i)]) * (1.0f / 256.0f);
      }
      EXPECT_EQ(k->dot_e4m3(x.data(), w.data(), 128), k->dot_f32(x.data(), decoded.data(), 128) * 256.0f)
          << k->isa;
    }
  }
}

// The fast-mode multi-row kernels: within fp32 summation error of the reference, and a
// row's result has the same bits whether it is computed alone or with three others.
TEST_F(DotTest, ScaledRowsMatchReferenceAndAreRowInvariant) {
  std::uniform_int_distribution<int> byte(0, 255), exponent(-4, 2);
  for (bool fp4 : {true, false}) {
    for (int64_t n : {128, 256, 1024}) {
      std::vector<std::vector<float>> xs;
      for (int r = 0; r < 4; ++r) xs.push_back(RandomX(n));
      const float* xp[4] = {xs[0].data(), xs[1].data(), xs[2].data(), xs[3].data()};
      std::vector<uint8_t> w(size_t(fp4 ? n / 2 : n));
      for (auto& b : w) {
        do b = uint8_t(byte(rng_)); while (!fp4 && (b & 0x7F) == 0x7F);
      }
      std::vector<float> scales(size_t(n / (fp4 ? 32 : 128)));
      for (auto& s : scales) s = std::ldexp(1.0f, exponent(rng_));
      auto kernel = fp4 ? avx2_->dot_e2m1_scaled_rows : avx2_->dot_e4m3_scaled_rows;
      auto ref = fp4 ? ref_.dot_e2m1_scaled_rows : ref_.dot_e4m3_scaled_rows;
      float all[4], want[4];
      kernel(xp, 4, w.data(), scales.data(), n, all);
      ref(xp, 4, w.data(), scales.data(), n, want);
      for (int r = 0; r < 4; ++r) {
        float one;
        kernel(&xp[r], 1, w.data(), scales.data(), n, &one);
        EXPECT_EQ(one, all[r]) << (fp4 ? "e2m1" : "e4m3") << " n=" << n << " row " << r;
        double abs_sum = 0;
        for (int64_t k = 0; k < n; ++k) {
          float v = fp4 ? E2m1ToFloat((k & 1) ? (w[size_t(k / 2)] >> 4) : (w[size_t(k / 2)] & 15))
                        : E4m3ToFloat(w[size_t(k)]);
          abs_sum += std::fabs(double(xs[size_t(r)][size_t(k)]) * v * scales[size_t(k / (fp4 ? 32 : 128))]);
        }
        EXPECT_NEAR(all[r], want[r], Tolerance(n, abs_sum)) << (fp4 ? "e2m1" : "e4m3") << " n=" << n;
      }
    }
  }
}

}  // namespace
}  // namespace dsv4::kernels
