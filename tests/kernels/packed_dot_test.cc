// The packed-activation kernels (DotKernels::pack_bf16_acts and *_rows_packed) of the
// best SIMD set vs the scalar reference set. Each set packs with its own layout, so the
// tests go through pack_bf16_acts. One-hot activations check every position and code
// exactly (a single product, no summation); random data allow the fp32 summation error.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/dot.h"

namespace dsv4::kernels {
namespace {

// One read-write page between two inaccessible ones: a kernel reading past either end of
// data placed against its edges faults.
struct GuardedPage {
  long size = sysconf(_SC_PAGESIZE);
  void* map = mmap(nullptr, size_t(3 * size), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uint8_t* data = map == MAP_FAILED ? nullptr : static_cast<uint8_t*>(map) + size;
  bool writable = data != nullptr && mprotect(data, size_t(size), PROT_READ | PROT_WRITE) == 0;
  GuardedPage() = default;
  GuardedPage(const GuardedPage&) = delete;
  GuardedPage& operator=(const GuardedPage&) = delete;
  ~GuardedPage() {
    if (map != MAP_FAILED) munmap(map, size_t(3 * size));
  }
  bool ok() const { return writable; }
};

class PackedDotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    simd_ = Avx512DotKernels();
    if (simd_ == nullptr) GTEST_SKIP() << "AVX-512 BF16/VBMI kernels not available on this CPU";
  }

  // Packs `rows` activation rows of n values with `k`'s layout.
  static std::vector<std::vector<uint16_t>> Pack(const DotKernels& k, PackedFormat f,
                                                 const std::vector<std::vector<float>>& x) {
    std::vector<std::vector<uint16_t>> p;
    for (const auto& row : x) {
      p.emplace_back(row.size());
      k.pack_bf16_acts(row.data(), int64_t(row.size()), f, p.back().data());
    }
    return p;
  }

  // out[r] for the given kernel set and format; w = codes (bf16 bits for kBf16).
  static std::vector<float> Run(const DotKernels& k, PackedFormat f,
                                const std::vector<std::vector<float>>& x, const void* w,
                                const uint8_t* scales, int64_t n) {
    auto p = Pack(k, f, x);
    std::vector<const uint16_t*> xs;
    for (const auto& row : p) xs.push_back(row.data());
    std::vector<float> out(x.size());
    const int rows = int(x.size());
    switch (f) {
      case PackedFormat::kBf16:
        k.bf16_rows_packed(xs.data(), rows, static_cast<const uint16_t*>(w), n, 1, n, out.data());
        break;
      case PackedFormat::kE4m3:
        k.e4m3_rows_packed(xs.data(), rows, static_cast<const uint8_t*>(w), scales, n, out.data());
        break;
      case PackedFormat::kE2m1:
        k.e2m1_rows_packed(xs.data(), rows, static_cast<const uint8_t*>(w), scales, n, out.data());
        break;
      case PackedFormat::kE2m1Tile:  // tile order: tile_order_test.cc
        ADD_FAILURE() << "no rows kernel for tile order";
        break;
    }
    return out;
  }

  std::vector<float> RandomRow(int64_t n) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = RoundBf16(dist(rng_));
    return x;
  }

  const DotKernels& ref_ = RefDotKernels();
  const DotKernels* simd_ = nullptr;
  std::mt19937 rng_{99};
};

// Weight value at k (scales applied) for the three formats.
double WeightValue(PackedFormat f, const std::vector<uint8_t>& w, const std::vector<uint8_t>& s,
                   int64_t k) {
  switch (f) {
    case PackedFormat::kBf16:
      return Bf16ToFloat(uint16_t(w[size_t(2 * k)] | (w[size_t(2 * k + 1)] << 8)));
    case PackedFormat::kE4m3:
      return double(E4m3ToFloat(w[size_t(k)])) * Ue8m0ToFloat(s[size_t(k / 128)]);
    case PackedFormat::kE2m1:
    case PackedFormat::kE2m1Tile: {
      const uint8_t b = w[size_t(k / 2)];
      return double(E2m1ToFloat((k & 1) ? b >> 4 : b & 15)) * Ue8m0ToFloat(s[size_t(k / 32)]);
    }
  }
  return 0;
}

const char* Name(PackedFormat f) {
  return f == PackedFormat::kBf16 ? "bf16" : f == PackedFormat::kE4m3 ? "e4m3" : "e2m1";
}

// Random weights of n values in format f: bytes and scale bytes.
void RandomWeights(PackedFormat f, int64_t n, std::mt19937& rng, std::vector<uint8_t>* w,
                   std::vector<uint8_t>* s) {
  std::uniform_int_distribution<int> byte(0, 255), exponent(118, 130);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  w->clear();
  s->clear();
  if (f == PackedFormat::kBf16) {
    for (int64_t k = 0; k < n; ++k) {
      const uint16_t b = FloatToBf16(dist(rng));
      w->push_back(uint8_t(b & 0xFF));
      w->push_back(uint8_t(b >> 8));
    }
    return;
  }
  const bool fp4 = f == PackedFormat::kE2m1;
  for (int64_t i = 0; i < (fp4 ? n / 2 : n); ++i) {
    uint8_t c;
    do c = uint8_t(byte(rng)); while (!fp4 && (c & 0x7F) == 0x7F);
    w->push_back(c);
  }
  for (int64_t i = 0; i < n / (fp4 ? 32 : 128); ++i) s->push_back(uint8_t(exponent(rng)));
  // One block with exponent 0, the subnormal scale 2^-127 (Ue8m0ToFloat), at a random place.
  (*s)[size_t(rng() % s->size())] = 0;
}

TEST_F(PackedDotTest, RandomMatchesReferenceAndRowsAreIndependent) {
  for (PackedFormat f : {PackedFormat::kBf16, PackedFormat::kE4m3, PackedFormat::kE2m1}) {
    for (int64_t n : {128, 256, 2048}) {
      std::vector<uint8_t> w, s;
      RandomWeights(f, n, rng_, &w, &s);
      std::vector<std::vector<float>> x;
      for (int r = 0; r < kPackedRowsMax; ++r) x.push_back(RandomRow(n));
      const std::vector<float> want = Run(ref_, f, x, w.data(), s.data(), n);
      const std::vector<float> all = Run(*simd_, f, x, w.data(), s.data(), n);
      for (int r = 0; r < kPackedRowsMax; ++r) {
        double abs_sum = 0;
        for (int64_t k = 0; k < n; ++k) abs_sum += std::fabs(x[size_t(r)][size_t(k)] * WeightValue(f, w, s, k));
        const double tol = 2.0 * double(n + 1) * std::ldexp(1.0, -24) * abs_sum + 1e-30;
        EXPECT_NEAR(all[size_t(r)], want[size_t(r)], tol) << Name(f) << " n=" << n << " row " << r;
        // The same row alone, and as the first of `rows` rows, gives the same bits.
        for (int rows = 1; rows <= kPackedRowsMax; ++rows) {
          std::vector<std::vector<float>> sub(x.begin() + r, x.begin() + std::min(kPackedRowsMax, r + rows));
          EXPECT_EQ(Run(*simd_, f, sub, w.data(), s.data(), n)[0], all[size_t(r)])
              << Name(f) << " n=" << n << " row " << r << " rows " << rows;
        }
      }
    }
  }
}

// bf16 weight tiles: wrows weight rows at once give, per output, the bits of the
// one-row call, and the reference's values within the summation error.
TEST_F(PackedDotTest, Bf16WeightTilesMatchOneRowCalls) {
  const int64_t n = 512;
  std::vector<std::vector<uint8_t>> w(kPackedWeightRowsMax);
  std::vector<uint8_t> s;
  for (auto& row : w) RandomWeights(PackedFormat::kBf16, n, rng_, &row, &s);
  std::vector<uint16_t> tile(size_t(kPackedWeightRowsMax * n));
  for (int i = 0; i < kPackedWeightRowsMax; ++i) std::memcpy(&tile[size_t(i * n)], w[size_t(i)].data(), size_t(2 * n));
  std::vector<std::vector<float>> x;
  for (int r = 0; r < kPackedRowsMax; ++r) x.push_back(RandomRow(n));
  for (const DotKernels* k : {&ref_, simd_}) {
    auto p = Pack(*k, PackedFormat::kBf16, x);
    std::vector<const uint16_t*> xs;
    for (const auto& row : p) xs.push_back(row.data());
    for (int rows = 1; rows <= kPackedRowsMax; ++rows) {
      for (int wrows = 1; wrows <= kPackedWeightRowsMax; ++wrows) {
        std::vector<float> out(static_cast<size_t>(rows * wrows));
        k->bf16_rows_packed(xs.data(), rows, tile.data(), n, wrows, n, out.data());
        for (int i = 0; i < wrows; ++i) {
          std::vector<float> one(static_cast<size_t>(rows));
          k->bf16_rows_packed(xs.data(), rows, &tile[size_t(i * n)], n, 1, n, one.data());
          for (int r = 0; r < rows; ++r) {
            ASSERT_EQ(out[size_t(i * rows + r)], one[size_t(r)])
                << k->isa << " rows " << rows << " wrows " << wrows << " i " << i << " r " << r;
          }
        }
      }
    }
    std::vector<float> out(static_cast<size_t>(kPackedRowsMax * kPackedWeightRowsMax));
    k->bf16_rows_packed(xs.data(), kPackedRowsMax, tile.data(), n, kPackedWeightRowsMax, n, out.data());
    for (int i = 0; i < kPackedWeightRowsMax; ++i) {
      const std::vector<float> want = Run(ref_, PackedFormat::kBf16, x, w[size_t(i)].data(), nullptr, n);
      for (int r = 0; r < kPackedRowsMax; ++r) {
        double abs_sum = 0;
        for (int64_t kk = 0; kk < n; ++kk) abs_sum += std::fabs(x[size_t(r)][size_t(kk)] * WeightValue(PackedFormat::kBf16, w[size_t(i)], s, kk));
        EXPECT_NEAR(out[size_t(i * kPackedRowsMax + r)], want[size_t(r)],
                    2.0 * double(n + 1) * std::ldexp(1.0, -24) * abs_sum + 1e-30) << k->isa;
      }
    }
  }
}

// Decode's e4m3 / e2m1 rows several at a time (lockstep weight streams): each output has
// the bits of the rows kernel with one activation row, for every count of activation rows,
// of weight rows and per-row scale rows (as across a 128-row block boundary), and K of one
// or many blocks; rows at any byte offset from a cache line (a checkpoint's tensors start
// anywhere; the kernels then read whole lines and shift) and strides that keep the rows'
// offset or not. The e2m1 FMA kernel (where the CPU has it) gives the same bits, also on
// an activation row spread over 2^-60..2^60, where summation orders round differently.
TEST_F(PackedDotTest, WeightRowsMatchRowsKernelBitForBit) {
  for (PackedFormat f : {PackedFormat::kE4m3, PackedFormat::kE2m1}) {
    const bool e4m3 = f == PackedFormat::kE4m3;
    ASSERT_NE(simd_->e4m3_weight_rows, nullptr);
    ASSERT_NE(simd_->e2m1_weight_rows, nullptr);
    for (int64_t n : {int64_t(128), int64_t(4096 + 128)}) {
     for (int64_t offset : {0, 1, 8, 24, 56, 63}) {
      for (int64_t extra : {64, 72}) {
      const int64_t row_bytes = e4m3 ? n : n / 2;
      // Rows a few bytes more than a row apart: the kernel must use the stride it is given.
      const int64_t stride = row_bytes + extra;
      std::vector<uint8_t> buffer(size_t(kWeightRowsMax * stride + 128)), row;
      uint8_t* const w_at = buffer.data() + (64 - reinterpret_cast<uintptr_t>(buffer.data()) % 64) + offset;
      std::span<uint8_t> w(w_at, size_t(kWeightRowsMax * stride));
      std::vector<std::vector<uint8_t>> scales(kWeightRowsMax);
      for (int i = 0; i < kWeightRowsMax; ++i) {
        RandomWeights(f, n, rng_, &row, &scales[size_t(i)]);
        // A row whose every scale is the subnormal 2^-127 (exponent 0): its outputs are
        // that tiny, so a kernel that read exponent 0 as scale 0 would give 0 instead.
        if (i == 1) std::fill(scales[1].begin(), scales[1].end(), uint8_t(0));
        std::memcpy(&w[size_t(i * stride)], row.data(), size_t(row_bytes));
      }
      std::vector<std::vector<float>> x;
      for (int r = 0; r < kWeightRowsMax; ++r) x.push_back(RandomRow(n));
      std::uniform_int_distribution<int> exponent(-60, 60);
      for (float& v : x.back()) v = std::ldexp(v, exponent(rng_));  // exact: a power of two
      const auto p = Pack(*simd_, f, x);
      const uint16_t* xs[kWeightRowsMax];
      for (int r = 0; r < kWeightRowsMax; ++r) xs[r] = p[size_t(r)].data();
      const bool fma = !e4m3 && simd_->e2m1_weight_rows_fma != nullptr;
      std::vector<std::vector<float>> split(kWeightRowsMax, std::vector<float>(size_t(n)));
      const float* xf[kWeightRowsMax];
      for (int r = 0; fma && r < kWeightRowsMax; ++r) {
        ASSERT_TRUE(simd_->split_e2m1_acts(xs[r], n, split[size_t(r)].data()));
        xf[r] = split[size_t(r)].data();
      }
      const uint8_t* scale_rows[kWeightRowsMax];
      for (int i = 0; i < kWeightRowsMax; ++i) scale_rows[i] = scales[size_t(i)].data();
      for (int rows = 1; rows <= kWeightRowsMax; ++rows) {
        for (int wrows = 1; wrows <= kWeightRowsMax; ++wrows) {
          std::vector<float> out(size_t(wrows * rows), -1.0f);
          if (e4m3) {
            simd_->e4m3_weight_rows(xs, rows, w.data(), stride, scale_rows, wrows, n, out.data());
          } else {
            simd_->e2m1_weight_rows(xs, rows, w.data(), stride, scale_rows, wrows, n, out.data());
          }
          if (fma) {
            std::vector<float> out_fma(out.size(), -1.0f);
            simd_->e2m1_weight_rows_fma(xf, rows, w.data(), stride, scale_rows, wrows, n, out_fma.data());
            for (size_t i = 0; i < out.size(); ++i) {
              ASSERT_EQ(std::bit_cast<uint32_t>(out_fma[i]), std::bit_cast<uint32_t>(out[i]))
                  << "fma n " << n << " offset " << offset << " stride " << stride << " rows " << rows << " wrows "
                  << wrows << " output " << i;
            }
          }
          for (int i = 0; i < wrows; ++i) {
            for (int r = 0; r < rows; ++r) {
              float one = 0;
              const uint16_t* x1[1] = {xs[r]};
              if (e4m3) {
                simd_->e4m3_rows_packed(x1, 1, &w[size_t(i * stride)], scale_rows[i], n, &one);
              } else {
                simd_->e2m1_rows_packed(x1, 1, &w[size_t(i * stride)], scale_rows[i], n, &one);
              }
              ASSERT_EQ(out[size_t(i * rows + r)], one)
                  << Name(f) << " n " << n << " offset " << offset << " stride " << stride << " rows " << rows
                  << " wrows " << wrows << " i " << i << " r " << r;
            }
          }
        }
      }
      }
     }
    }
  }
}

// The FMA kernel's activations: per 32 packed values the 16 odd ones as fp32, then the 16
// even ones; accepted down to 2^-118 in magnitude (and zeros of either sign), refused for
// anything smaller but nonzero (bf16 denormals included), wherever it sits in the row.
TEST_F(PackedDotTest, SplitE2m1ActsLayoutAndRange) {
  if (simd_->e2m1_weight_rows_fma == nullptr) GTEST_SKIP() << "this CPU's vdpbf16ps is not two FMAs per lane";
  const int64_t n = 256;
  std::vector<std::vector<float>> x = {RandomRow(n)};
  const auto p = Pack(*simd_, PackedFormat::kE2m1, x);
  std::vector<float> out(static_cast<size_t>(n));
  ASSERT_TRUE(simd_->split_e2m1_acts(p[0].data(), n, out.data()));
  for (int64_t k = 0; k < n; k += 32) {
    for (int i = 0; i < 16; ++i) {
      EXPECT_EQ(std::bit_cast<uint32_t>(out[size_t(k + i)]), uint32_t(p[0][size_t(k + 2 * i + 1)]) << 16);
      EXPECT_EQ(std::bit_cast<uint32_t>(out[size_t(k + 16 + i)]), uint32_t(p[0][size_t(k + 2 * i)]) << 16);
    }
  }
  struct Case { uint16_t bits; bool accepted; };
  const Case cases[] = {{0x0000, true},  {0x8000, true},  {0x0480, true},  {0x8480, true},   // 0, -0, ±2^-118
                        {0x047F, false}, {0x847F, false}, {0x0400, false}, {0x0001, false},  // below; bf16 denormal
                        {0x7F7F, true}};                                                    // the largest bf16
  for (const Case& c : cases) {
    for (int64_t at : {int64_t(0), int64_t(17), n - 1}) {
      std::vector<uint16_t> row = p[0];
      row[size_t(at)] = c.bits;
      EXPECT_EQ(simd_->split_e2m1_acts(row.data(), n, out.data()), c.accepted) << std::hex << c.bits << " at " << at;
    }
  }
}

// Rows read with whole-line loads (any start offset) touch no byte outside the lines that
// hold the rows: rows ending at a page followed by an inaccessible one, or starting right
// after one, are read without a fault.
TEST_F(PackedDotTest, WeightRowsStayInsideTheirLines) {
  const GuardedPage guarded;
  ASSERT_TRUE(guarded.ok());
  const long page = guarded.size;
  uint8_t* const data = guarded.data;
  const int64_t n = 512;
  for (PackedFormat f : {PackedFormat::kE4m3, PackedFormat::kE2m1}) {
    const bool e4m3 = f == PackedFormat::kE4m3;
    const int64_t row_bytes = e4m3 ? n : n / 2;
    std::vector<uint8_t> row;
    std::vector<std::vector<uint8_t>> scales(2);
    std::vector<std::vector<float>> x = {RandomRow(n)};
    const auto p = Pack(*simd_, f, x);
    const uint16_t* xs[1] = {p[0].data()};
    for (int64_t offset : {1, 24, 63}) {
      // Two rows a whole number of lines apart, the first `offset` bytes into the page or
      // the last ending `64 - offset` bytes before the page's end.
      for (bool at_end : {false, true}) {
        const int64_t stride = row_bytes + 64;
        uint8_t* w = at_end ? data + page - (stride + row_bytes) - (64 - offset) : data + offset;
        for (int i = 0; i < 2; ++i) {
          RandomWeights(f, n, rng_, &row, &scales[size_t(i)]);
          std::memcpy(w + i * stride, row.data(), size_t(row_bytes));
        }
        const uint8_t* scale_rows[2] = {scales[0].data(), scales[1].data()};
        float out[2] = {-1, -1};
        if (e4m3) {
          simd_->e4m3_weight_rows(xs, 1, w, stride, scale_rows, 2, n, out);
        } else {
          simd_->e2m1_weight_rows(xs, 1, w, stride, scale_rows, 2, n, out);
        }
        for (int i = 0; i < 2; ++i) {
          float one = 0;
          if (e4m3) {
            simd_->e4m3_rows_packed(xs, 1, w + i * stride, scale_rows[i], n, &one);
          } else {
            simd_->e2m1_rows_packed(xs, 1, w + i * stride, scale_rows[i], n, &one);
          }
          EXPECT_EQ(out[i], one) << Name(f) << " offset " << offset << " at_end " << at_end << " row " << i;
        }
      }
    }
  }
}

// One nonzero activation at each position p against a weight row of varying codes: the
// result is that single product exactly, so every position reads the right weight.
TEST_F(PackedDotTest, OneHotEveryPositionExact) {
  std::uniform_int_distribution<int> byte(0, 255);
  for (PackedFormat f : {PackedFormat::kBf16, PackedFormat::kE4m3, PackedFormat::kE2m1}) {
    const int64_t n = 256;
    std::vector<uint8_t> w, s;
    RandomWeights(f, n, rng_, &w, &s);
    for (size_t i = 0; i < s.size(); ++i) s[i] = uint8_t(120 + 3 * i);  // a distinct scale per block
    for (int64_t p = 0; p < n; ++p) {
      std::vector<std::vector<float>> x(2, std::vector<float>(size_t(n), 0.0f));
      x[0][size_t(p)] = -1.5f;
      x[1][size_t((p * 7 + 3) % n)] = 0.25f;
      const std::vector<float> got = Run(*simd_, f, x, w.data(), s.data(), n);
      EXPECT_EQ(got[0], float(-1.5 * WeightValue(f, w, s, p))) << Name(f) << " p=" << p;
      EXPECT_EQ(got[1], float(0.25 * WeightValue(f, w, s, (p * 7 + 3) % n))) << Name(f) << " p=" << p;
    }
  }
}

// Every e4m3 code and every e2m1 nibble decodes exactly (NaN codes give NaN), including
// the ue8m0 scale byte 0 (2^-127, an fp32 subnormal) and a large scale.
TEST_F(PackedDotTest, EveryCodeExact) {
  const int64_t n = 128;
  for (int c = 0; c < 256; ++c) {
    std::vector<uint8_t> w(n, 0);
    w[size_t(c % 64)] = uint8_t(c);
    std::vector<uint8_t> s = {uint8_t(c % 2 ? 127 : 131)};
    std::vector<std::vector<float>> x(1, std::vector<float>(size_t(n), 0.0f));
    x[0][size_t(c % 64)] = 3.0f;
    const float got = Run(*simd_, PackedFormat::kE4m3, x, w.data(), s.data(), n)[0];
    if ((c & 0x7F) == 0x7F) {
      EXPECT_TRUE(std::isnan(got)) << "code " << c;
    } else {
      EXPECT_EQ(got, 3.0f * E4m3ToFloat(uint8_t(c)) * Ue8m0ToFloat(s[0])) << "code " << c;
    }
  }
  for (int c = 0; c < 16; ++c) {
    for (int p = 0; p < 128; ++p) {
      std::vector<uint8_t> w(64, 0);
      w[size_t(p / 2)] = uint8_t((p & 1) ? c << 4 : c);
      std::vector<uint8_t> s = {0, 200, 127, 131};
      std::vector<std::vector<float>> x(1, std::vector<float>(128, 0.0f));
      x[0][size_t(p)] = std::ldexp(1.0f, 20);
      const float got = Run(*simd_, PackedFormat::kE2m1, x, w.data(), s.data(), 128)[0];
      EXPECT_EQ(got, float(double(x[0][size_t(p)]) * E2m1ToFloat(uint8_t(c)) * Ue8m0ToFloat(s[size_t(p / 32)])))
          << "nibble " << c << " p=" << p;
    }
  }
}

// dot_bf16_keys (attention scores of several heads over the same keys) vs the reference
// set: the fp32 summation bound on random data, exact on one-hot queries, and each score
// independent of how many heads and keys share the call.
TEST_F(PackedDotTest, Bf16KeysMatchReference) {
  ASSERT_NE(simd_->dot_bf16_keys, nullptr);
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t d : {512, 96, 20, 33}) {  // 20, 33: masked tails
    for (int64_t heads : {1, 3, 8}) {
      for (int64_t n : {1, 3, 4, 5, 64}) {
        std::vector<float> q(static_cast<size_t>(heads * d));
        for (float& v : q) v = RoundBf16(normal(rng));
        std::vector<std::vector<uint16_t>> rows(static_cast<size_t>(n));
        std::vector<const uint16_t*> keys;
        for (auto& r : rows) {
          for (int64_t i = 0; i < d; ++i) r.push_back(FloatToBf16(normal(rng)));
          keys.push_back(r.data());
        }
        std::vector<float> ref(static_cast<size_t>(heads * n)), got(static_cast<size_t>(heads * n));
        RefDotKernels().dot_bf16_keys(q.data(), heads, keys.data(), n, d, ref.data());
        simd_->dot_bf16_keys(q.data(), heads, keys.data(), n, d, got.data());
        for (int64_t h = 0; h < heads; ++h) {
          for (int64_t u = 0; u < n; ++u) {
            double abs_sum = 0;
            for (int64_t i = 0; i < d; ++i) abs_sum += std::fabs(double(q[size_t(h * d + i)]) * Bf16ToFloat(rows[size_t(u)][size_t(i)]));
            const double tol = 2.0 * double(d + 1) * std::ldexp(1.0, -24) * abs_sum + 1e-30;
            EXPECT_NEAR(got[size_t(h * n + u)], ref[size_t(h * n + u)], tol) << "d " << d << " h " << h << " u " << u;
            // The same score computed alone (one head, one key).
            float alone = 0.0f;
            simd_->dot_bf16_keys(&q[size_t(h * d)], 1, &keys[size_t(u)], 1, d, &alone);
            EXPECT_EQ(alone, got[size_t(h * n + u)]) << "d " << d << " h " << h << " u " << u;
          }
        }
        // One-hot queries pick single products exactly.
        std::fill(q.begin(), q.end(), 0.0f);
        for (int64_t h = 0; h < heads; ++h) q[size_t(h * d + (h * 7) % d)] = 1.5f;
        simd_->dot_bf16_keys(q.data(), heads, keys.data(), n, d, got.data());
        for (int64_t h = 0; h < heads; ++h) {
          for (int64_t u = 0; u < n; ++u) {
            EXPECT_EQ(got[size_t(h * n + u)], 1.5f * Bf16ToFloat(rows[size_t(u)][size_t((h * 7) % d)]));
          }
        }
      }
    }
  }
}


// The panel decoders read rows at any offset from a cache line (as whole lines) to the
// same bf16 words as from a line start, and nothing past the row's lines: a row ending at
// a page followed by an inaccessible one, or starting right after one, is decoded without
// a fault. (The packed order is the SIMD set's own, so the reference is the same kernel
// on a line-aligned copy.)
TEST_F(PackedDotTest, DecodeRowsAtAnyOffsetMatchReference) {
  const GuardedPage guarded;
  ASSERT_TRUE(guarded.ok());
  const long page = guarded.size;
  uint8_t* const data = guarded.data;
  const int64_t n = 1024;
  for (PackedFormat f : {PackedFormat::kE4m3, PackedFormat::kE2m1}) {
    const bool fp4 = f == PackedFormat::kE2m1;
    const int64_t row_bytes = fp4 ? n / 2 : n;
    auto decode = [&](const DotKernels& k, const uint8_t* w) {
      std::vector<uint16_t> out(static_cast<size_t>(n));
      (fp4 ? k.decode_e2m1_row : k.decode_e4m3_row)(w, n, out.data());
      return out;
    };
    std::vector<uint8_t> row, scales;
    for (int64_t offset = 0; offset < 64; ++offset) {
      RandomWeights(f, n, rng_, &row, &scales);
      std::memcpy(data, row.data(), size_t(row_bytes));  // the page start: a line start
      const std::vector<uint16_t> want = decode(*simd_, data);
      for (bool at_end : {false, true}) {
        uint8_t* w = at_end ? data + page - row_bytes - (64 - offset) % 64 : data + offset;
        std::memcpy(w, row.data(), size_t(row_bytes));
        ASSERT_EQ(decode(*simd_, w), want) << Name(f) << " offset " << offset << " at_end " << at_end;
      }
    }
  }
}

// GEMM panels: weight rows decoded once (decode_*_row) and multiplied by panel_tile give,
// for every tile shape, the bits of the rows kernels on the raw weights (so a batch and
// a single token agree), in both kernel sets; NaN codes stay NaN; the prefetch cursor
// advances within its range.
TEST_F(PackedDotTest, PanelTilesMatchRowsKernelsBitForBit) {
  for (const DotKernels* k : {&ref_, simd_}) {
    for (PackedFormat f : {PackedFormat::kE4m3, PackedFormat::kE2m1}) {
      const bool fp4 = f == PackedFormat::kE2m1;
      const int64_t block = fp4 ? 32 : 128;
      for (int64_t n : {128, 512}) {
        std::vector<std::vector<uint8_t>> w(kPackedWeightRowsMax), s(kPackedWeightRowsMax);
        for (int i = 0; i < kPackedWeightRowsMax; ++i) RandomWeights(f, n, rng_, &w[size_t(i)], &s[size_t(i)]);
        if (!fp4) w[1][5] = 0x7F;  // a NaN code
        std::vector<uint16_t> panel(size_t(kPackedWeightRowsMax * n));
        std::vector<std::vector<float>> scales(kPackedWeightRowsMax);
        std::vector<const float*> scale_rows;
        for (int i = 0; i < kPackedWeightRowsMax; ++i) {
          (fp4 ? k->decode_e2m1_row : k->decode_e4m3_row)(w[size_t(i)].data(), n, &panel[size_t(i * n)]);
          for (int64_t b = 0; b < n / block; ++b) scales[size_t(i)].push_back(Ue8m0ToFloat(s[size_t(i)][size_t(b)]));
          scale_rows.push_back(scales[size_t(i)].data());
        }
        std::vector<std::vector<float>> x;
        for (int r = 0; r < kPackedRowsMax; ++r) x.push_back(RandomRow(n));
        auto p = Pack(*k, f, x);
        std::vector<const uint16_t*> xs;
        for (const auto& row : p) xs.push_back(row.data());
        const std::vector<uint8_t> ahead(4096);
        for (int rows = 1; rows <= kPackedRowsMax; ++rows) {
          std::vector<std::vector<float>> want(kPackedWeightRowsMax, std::vector<float>(size_t(rows)));
          for (int i = 0; i < kPackedWeightRowsMax; ++i) {
            (fp4 ? k->e2m1_rows_packed : k->e4m3_rows_packed)(xs.data(), rows, w[size_t(i)].data(), s[size_t(i)].data(), n, want[size_t(i)].data());
          }
          for (int wrows = 1; wrows <= kPackedWeightRowsMax; ++wrows) {
            std::vector<float> out(size_t(rows * wrows));
            const uint8_t* cursor = ahead.data();
            k->panel_tile(f, xs.data(), rows, panel.data(), n, wrows, scale_rows.data(), n, out.data(), &cursor,
                          ahead.data() + ahead.size());
            EXPECT_GE(cursor, ahead.data());
            EXPECT_LE(cursor, ahead.data() + ahead.size());
            for (int i = 0; i < wrows; ++i) {
              for (int r = 0; r < rows; ++r) {
                const float got = out[size_t(i * rows + r)], expect = want[size_t(i)][size_t(r)];
                if (std::isnan(expect)) {
                  EXPECT_TRUE(std::isnan(got)) << k->isa << " " << Name(f) << " i " << i << " r " << r;
                } else {
                  ASSERT_EQ(got, expect) << k->isa << " " << Name(f) << " n " << n << " rows " << rows << " wrows " << wrows
                                         << " i " << i << " r " << r;
                }
              }
            }
            if (!fp4 && wrows > 1) {
              EXPECT_TRUE(std::isnan(out[size_t(1 * rows)])) << k->isa << " NaN code of row 1";
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace dsv4::kernels
