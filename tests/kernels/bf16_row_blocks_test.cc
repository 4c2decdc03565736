// bf16 weights in 16-row blocks (kernels/bf16_row_blocks.h): the packed layout, the
// AVX-512 tile kernel against the scalar reference (fp32 summation bound) and against
// itself across tile shapes (same bits), and Linear on a matrix with a blocked copy: one
// arithmetic whatever T and the row range, within the summation bound of the row-major path.
// Then the AMX products of the blocks (kernels/linear_amx.h), called directly: every
// output within the fp32 summation bound of the exact product, every row of batches of
// one and several token tiles, with and without a tail (T = 2, 15, 16, 17, 32, 37),
// bit-identical to the same row at T = 1, row ranges
// that start and end inside blocks writing exactly their rows, and a matrix long enough
// for the far-apart block streams of T <= 16 (skipped where the CPU, or DSV4_ISA, has no AMX).
#include "kernels/bf16_row_blocks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/linear.h"
#include "kernels/linear_amx.h"

namespace dsv4::kernels {
namespace {

std::vector<uint16_t> RandomBf16(int64_t n, float sd, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, sd);
  std::vector<uint16_t> v(static_cast<size_t>(n));
  for (auto& b : v) b = FloatToBf16(dist(rng));
  return v;
}

TEST(Bf16RowBlocksTest, PackedLayout) {
  std::mt19937 rng(1);
  constexpr int64_t N = 37, K = 64;  // N not a multiple of 16: the last block padded with 0
  const std::vector<uint16_t> w = RandomBf16(N * K, 1.0f, rng);
  std::vector<uint16_t> blocks(size_t(RowBlocksElements(N, K)), 0xFFFF);
  ASSERT_EQ(blocks.size(), size_t(48 * K));
  PackBf16RowBlocks(w.data(), N, K, blocks.data());
  for (int64_t b = 0; b < 3; ++b) {
    for (int64_t p = 0; p < K / 2; ++p) {
      for (int64_t row = 0; row < 16; ++row) {
        for (int64_t j = 0; j < 2; ++j) {
          const int64_t n = 16 * b + row;
          const uint16_t want = n < N ? w[size_t(n * K + 2 * p + j)] : uint16_t(0);
          ASSERT_EQ(blocks[size_t(((b * (K / 2) + p) * 16 + row) * 2 + j)], want) << b << " " << p << " " << row;
        }
      }
    }
  }
}

// Every tile shape the kernel takes, blocks at a stride: each output within the fp32
// summation bound of the exact product, and bit-identical to the one-row, one-block call.
TEST(Bf16RowBlocksTest, SimdMatchesReferenceAndTileShapes) {
  const Bf16BlocksFn simd = Bf16BlocksAvx512();
  if (simd == nullptr) GTEST_SKIP() << "AVX-512 BF16 not available";
  std::mt19937 rng(2);
  constexpr int64_t K = 512, kBlocks = 4, kStride = 16 * K + 96;  // blocks not adjacent
  const std::vector<uint16_t> w = RandomBf16(kBlocks * kStride, 0.05f, rng);
  std::vector<std::vector<uint16_t>> x;
  std::vector<const uint16_t*> xs;
  for (int r = 0; r < 8; ++r) x.push_back(RandomBf16(K, 1.0f, rng));
  for (const auto& row : x) xs.push_back(row.data());
  auto exact = [&](int r, int i, int64_t lane, double* abs_sum) {
    double sum = 0;
    *abs_sum = 0;
    for (int64_t k = 0; k < K; ++k) {
      const double t = double(Bf16ToFloat(x[size_t(r)][size_t(k)])) *
                       Bf16ToFloat(w[size_t(i * kStride + ((k / 2) * 16 + lane) * 2 + k % 2)]);
      sum += t;
      *abs_sum += std::fabs(t);
    }
    return sum;
  };
  std::vector<float> single(size_t(8 * kBlocks * 16)), ref(16);
  for (int r = 0; r < 8; ++r) {
    for (int i = 0; i < int(kBlocks); ++i) {
      const uint16_t* x1[1] = {xs[size_t(r)]};
      simd(x1, 1, w.data() + i * kStride, kStride, 1, K, &single[size_t((r * kBlocks + i) * 16)]);
      Bf16BlocksRef(x1, 1, w.data() + i * kStride, kStride, 1, K, ref.data());
      for (int64_t lane = 0; lane < 16; ++lane) {
        double abs_sum;
        const double want = exact(r, i, lane, &abs_sum);
        const double tol = 2.0 * double(K + 1) * std::ldexp(1.0, -24) * abs_sum;
        EXPECT_NEAR(single[size_t((r * kBlocks + i) * 16 + lane)], want, tol) << r << " " << i << " " << lane;
        EXPECT_NEAR(ref[size_t(lane)], want, tol) << "reference " << r << " " << i << " " << lane;
      }
    }
  }
  auto check = [&](int rows, int nblocks) {
    std::vector<float> out(size_t(rows * nblocks * 16), -1.0f);
    simd(xs.data(), rows, w.data(), kStride, nblocks, K, out.data());
    for (int r = 0; r < rows; ++r) {
      for (int i = 0; i < nblocks; ++i) {
        for (int64_t lane = 0; lane < 16; ++lane) {
          ASSERT_EQ(out[size_t((r * nblocks + i) * 16 + lane)], single[size_t((r * kBlocks + i) * 16 + lane)])
              << "rows " << rows << " nblocks " << nblocks << " r " << r << " i " << i << " lane " << lane;
        }
      }
    }
  };
  for (int rows = 1; rows <= 8; ++rows) {
    for (int nblocks = 1; nblocks <= 3; ++nblocks) check(rows, nblocks);
  }
  check(1, 4);
}

// Linear on a bf16 matrix with a blocked copy: every row of a batch (T = 2, 5, 16, 19, 40)
// and every row range gives the bits of T = 1 on the whole matrix, and the row-major
// path's values within the fp32 summation bound.
TEST(Bf16RowBlocksTest, LinearUsesOneArithmeticForEveryBatch) {
  if (ActiveBf16Blocks() == nullptr) GTEST_SKIP() << "no blocked kernel in this kernel set";
  std::mt19937 rng(3);
  constexpr int64_t N = 83, K = 256;
  const std::vector<uint16_t> wbits = RandomBf16(N * K, 0.05f, rng);
  WeightMatrix plain{.dtype = DType::kBF16, .rows = N, .cols = K,
                     .data = reinterpret_cast<const uint8_t*>(wbits.data())};
  std::vector<uint16_t> blocks(size_t(RowBlocksElements(N, K)));
  PackBf16RowBlocks(wbits.data(), N, K, blocks.data());
  WeightMatrix blocked = plain;
  blocked.row_blocks = blocks.data();
  const LinearOptions options{.act_quant = false, .round_bf16 = false};
  for (int64_t T : {2, 5, 16, 19, 40}) {
    std::vector<float> x(size_t(T * K));
    for (auto& v : x) v = Bf16ToFloat(RandomBf16(1, 1.0f, rng)[0]);
    std::vector<float> all(size_t(T * N)), row_major(size_t(T * N));
    Linear(x.data(), T, blocked, all.data(), options);
    Linear(x.data(), T, plain, row_major.data(), options);
    for (int64_t t = 0; t < T; ++t) {
      std::vector<float> one(N);
      Linear(&x[size_t(t * K)], 1, blocked, one.data(), options);
      for (int64_t n = 0; n < N; ++n) {
        ASSERT_EQ(one[size_t(n)], all[size_t(t * N + n)]) << "T " << T << " t " << t << " n " << n;
        double abs_sum = 0;
        for (int64_t k = 0; k < K; ++k) abs_sum += std::fabs(double(x[size_t(t * K + k)]) * Bf16ToFloat(wbits[size_t(n * K + k)]));
        EXPECT_NEAR(all[size_t(t * N + n)], row_major[size_t(t * N + n)], 4.0 * double(K + 1) * std::ldexp(1.0, -24) * abs_sum);
      }
    }
    // A row range that starts and ends inside blocks: the same bits, nothing outside it.
    constexpr int64_t r0 = 13, r1 = 70;
    std::vector<float> part(size_t(T * (r1 - r0)));
    LinearRows(x.data(), T, blocked, r0, r1, part.data(), options);
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t n = r0; n < r1; ++n) ASSERT_EQ(part[size_t(t * (r1 - r0) + n - r0)], all[size_t(t * N + n)]);
    }
  }
}

// Σ_k x[k] w[k] of two bf16 rows in double, and the fp32 summation bound around it for a
// kernel that rounds each of its K + 1 additions: 2 (K + 1) 2^-24 Σ|x[k] w[k]|.
struct ExactDot {
  double sum, bound;
};
ExactDot Exact(const uint16_t* x, const uint16_t* w, int64_t K) {
  double sum = 0, abs_sum = 0;
  for (int64_t k = 0; k < K; ++k) {
    const double p = double(Bf16ToFloat(x[k])) * Bf16ToFloat(w[k]);
    sum += p;
    abs_sum += std::fabs(p);
  }
  return {sum, 2.0 * double(K + 1) * std::ldexp(1.0, -24) * abs_sum};
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
      const ExactDot e = Exact(&x[size_t(t * K)], &w[size_t(n * K)], K);
      EXPECT_NEAR(single[size_t(t * N + n)], e.sum, e.bound) << "t " << t << " n " << n;
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

// A matrix of hundreds of blocks: up to T = 16 each thread walks its range as four block
// streams far apart (not adjacent blocks as above; beyond, adjacent blocks again); every
// row is within the bound, and each of three rows has its T = 1 bits in a batch of 3
// (streams, several activation rows stored per far-apart block) and of 20 (adjacent).
TEST(LinearAmxTest, ManyBlocksInFarApartStreams) {
  if (!AmxActive()) GTEST_SKIP() << "no AMX on this CPU (or DSV4_ISA caps it)";
  std::mt19937 rng(12);
  constexpr int64_t N = 16 * 300 + 7, K = 64;
  const std::vector<uint16_t> w = RandomBf16(N * K, 0.05f, rng);
  std::vector<uint16_t> blocks(size_t(RowBlocksElements(N, K)));
  PackBf16RowBlocks(w.data(), N, K, blocks.data());
  WeightMatrix m{.dtype = DType::kBF16, .rows = N, .cols = K, .data = reinterpret_cast<const uint8_t*>(w.data())};
  m.row_blocks = blocks.data();
  const std::vector<uint16_t> x = RandomBf16(20 * K, 1.0f, rng);
  std::vector<float> three(static_cast<size_t>(3 * N)), twenty(static_cast<size_t>(20 * N));
  LinearRowBlocksAmx(x.data(), 3, m, 0, N, three.data(), N, false);
  LinearRowBlocksAmx(x.data(), 20, m, 0, N, twenty.data(), N, false);
  for (int64_t r = 0; r < 3; ++r) {
    std::vector<float> one(static_cast<size_t>(N));
    LinearRowBlocksAmx(x.data() + r * K, 1, m, 0, N, one.data(), N, false);
    for (int64_t n = 0; n < N; ++n) {
      const ExactDot e = Exact(&x[size_t(r * K)], &w[size_t(n * K)], K);
      ASSERT_NEAR(one[size_t(n)], e.sum, e.bound) << r << " " << n;
      ASSERT_EQ(three[size_t(r * N + n)], one[size_t(n)]) << r << " " << n;
      ASSERT_EQ(twenty[size_t(r * N + n)], one[size_t(n)]) << r << " " << n;
    }
  }
}

}  // namespace
}  // namespace dsv4::kernels
