// FP4 indexer scoring (AVX2 and AVX-512 vs the scalar reference, and the reference vs a plain double
// dot of the decoded values) and the streaming top-k (vs a full stable sort).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/indexer_score.h"
#include "kernels/top_k.h"

namespace dsv4::kernels {
namespace {

struct Keys {
  std::vector<uint8_t> codes, scales;
};

Fp4IndexQuery RandomQuery(int64_t heads, int64_t dim, std::mt19937& rng) {
  Fp4IndexQuery q;
  q.heads = heads;
  q.dim = dim;
  static const int8_t kValues[] = {0, 1, 2, 3, 4, 6, 8, 12};
  for (int64_t i = 0; i < heads * dim; ++i) {
    const int8_t v = kValues[rng() % 8];
    q.values.push_back(rng() % 2 ? int8_t(-v) : v);
  }
  for (int64_t i = 0; i < heads * dim / 32; ++i) q.exps.push_back(int32_t(rng() % 12) - 8);
  for (int64_t h = 0; h < heads; ++h) q.weights.push_back(RoundBf16(float(int(rng() % 2001) - 1000) / 700.0f));
  return q;
}

Keys RandomKeys(int64_t n, int64_t dim, std::mt19937& rng) {
  Keys k;
  for (int64_t i = 0; i < n * dim / 2; ++i) k.codes.push_back(uint8_t(rng()));
  for (int64_t i = 0; i < n * dim / 32; ++i) k.scales.push_back(uint8_t(120 + rng() % 10));
  return k;
}

// The definition: decode both sides to floats, dot in double, the reference's roundings.
float NaiveScore(const Fp4IndexQuery& q, const Keys& k, int64_t j) {
  const int64_t dim = q.dim;
  double total = 0.0;
  for (int64_t h = 0; h < q.heads; ++h) {
    double dot = 0.0;
    for (int64_t i = 0; i < dim; ++i) {
      const uint8_t byte = k.codes[size_t(j * dim / 2 + i / 2)];
      const float kv = E2m1ToFloat((i & 1) ? uint8_t(byte >> 4) : uint8_t(byte & 15)) *
                       Ue8m0ToFloat(k.scales[size_t(j * dim / 32 + i / 32)]);
      const float qv = float(q.values[size_t(h * dim + i)]) / 2.0f *
                       std::ldexp(1.0f, q.exps[size_t(h * dim / 32 + i / 32)]);
      dot += double(qv) * double(kv);
    }
    const float d = std::max(RoundBf16(float(dot)), 0.0f);
    total += RoundBf16(d * q.weights[size_t(h)]);
  }
  return RoundBf16(float(total));
}

TEST(IndexerScoreTest, ReferenceMatchesDecodedDoubleDot) {
  std::mt19937 rng(1);
  for (int64_t dim : {32, 64, 128}) {
    const Fp4IndexQuery q = RandomQuery(3, dim, rng);
    const Keys k = RandomKeys(37, dim, rng);
    std::vector<float> s(37);
    IndexerScoreFp4Ref(q, k.codes.data(), k.scales.data(), 37, s.data());
    for (int64_t j = 0; j < 37; ++j) EXPECT_EQ(s[size_t(j)], NaiveScore(q, k, j)) << "dim " << dim << " key " << j;
  }
}

// Block exponents of the test data: the default spread; `wide`: far apart, so the double
// sums round; `narrow`: each head's and key's within 2^3 (typical of real keys and
// queries); `mixed`: narrow but for one head and one key; `tiny`: narrow with exponents
// so small that some results are subnormal.
enum class Spread { kDefault, kWide, kNarrow, kMixed, kTiny };

void SetExponents(Spread spread, int64_t dim, Fp4IndexQuery& q, Keys& k, std::mt19937& rng) {
  const int64_t blocks = dim / 32;
  if (spread == Spread::kDefault) return;
  if (spread == Spread::kWide) {
    for (int32_t& e : q.exps) e = int32_t(rng() % 61) - 30;
    for (uint8_t& s : k.scales) s = uint8_t(97 + rng() % 61);
    return;
  }
  const int32_t q0 = spread == Spread::kTiny ? -40 : -6;
  const int k0 = spread == Spread::kTiny ? 40 : 120;
  for (size_t h = 0; h * size_t(blocks) < q.exps.size(); ++h) {
    const int32_t base = q0 + int32_t(rng() % 4);
    for (int64_t b = 0; b < blocks; ++b) q.exps[h * size_t(blocks) + size_t(b)] = base + int32_t(rng() % 4);
  }
  for (size_t j = 0; j * size_t(blocks) < k.scales.size(); ++j) {
    const int base = k0 + int(rng() % 6);
    for (int64_t b = 0; b < blocks; ++b) k.scales[j * size_t(blocks) + size_t(b)] = uint8_t(base + int(rng() % 4));
  }
  if (spread == Spread::kMixed && blocks > 1) {
    if (q.heads > 2) q.exps[2 * size_t(blocks)] -= 9;
    if (k.scales.size() > 6 * size_t(blocks)) k.scales[5 * size_t(blocks) + 1] += 7;
  }
}

// Every key of every (dim, heads, n) case, bit for bit against the reference.
void ExpectBitIdentical(IndexerScoreFn fast, const std::vector<int64_t>& dims, Spread spread, uint32_t seed) {
  std::mt19937 rng(seed);
  for (int64_t dim : dims) {
    for (int64_t heads : {1, 5, 64}) {
      for (int64_t n : {1, 3, 4, 5, 31, 32, 33, 64, 257}) {  // group and tile tails included
        Fp4IndexQuery q = RandomQuery(heads, dim, rng);
        Keys k = RandomKeys(n, dim, rng);
        SetExponents(spread, dim, q, k, rng);
        std::vector<float> ref(static_cast<size_t>(n)), got(static_cast<size_t>(n), -1.0f);
        IndexerScoreFp4Ref(q, k.codes.data(), k.scales.data(), n, ref.data());
        fast(q, k.codes.data(), k.scales.data(), n, got.data());
        for (int64_t j = 0; j < n; ++j) {
          ASSERT_EQ(std::bit_cast<uint32_t>(ref[size_t(j)]), std::bit_cast<uint32_t>(got[size_t(j)]))
              << "dim " << dim << " heads " << heads << " key " << j << ": " << ref[size_t(j)] << " vs " << got[size_t(j)];
        }
      }
    }
  }
}

TEST(IndexerScoreTest, Avx2IsBitIdenticalToReference) {
  const IndexerScoreFn avx2 = IndexerScoreFp4Avx2();
  if (!avx2) GTEST_SKIP() << "no AVX2";
  ExpectBitIdentical(avx2, {64, 128, 256}, Spread::kDefault, 2);
  ExpectBitIdentical(avx2, {64, 128}, Spread::kWide, 5);
  ExpectBitIdentical(avx2, {128}, Spread::kNarrow, 8);
}

TEST(IndexerScoreTest, Avx512IsBitIdenticalToReference) {
  const IndexerScoreFn avx512 = IndexerScoreFp4Avx512();
  if (!avx512) GTEST_SKIP() << "no AVX-512 VNNI";
  ExpectBitIdentical(avx512, {32, 64, 128, 256}, Spread::kDefault, 6);
  ExpectBitIdentical(avx512, {32, 128}, Spread::kWide, 7);
  ExpectBitIdentical(avx512, {32, 64, 128, 256, 512}, Spread::kNarrow, 9);
  ExpectBitIdentical(avx512, {64, 128}, Spread::kMixed, 10);
  ExpectBitIdentical(avx512, {128}, Spread::kTiny, 11);
}

// The k best indices by (score descending, index ascending): a full stable sort.
std::vector<int32_t> SortedTopK(const std::vector<float>& s, int64_t k) {
  std::vector<int32_t> idx(s.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return s[size_t(a)] > s[size_t(b)]; });
  idx.resize(size_t(std::min<int64_t>(k, int64_t(s.size()))));
  return idx;
}

TEST(StreamingTopKTest, MatchesStableSortWithTies) {
  std::mt19937 rng(3);
  for (int64_t n : {0, 1, 10, 1000, 20000}) {
    for (int64_t k : {1, 6, 512}) {
      for (int distinct : {3, 1000000}) {  // heavy ties, then nearly none
        std::vector<float> s(static_cast<size_t>(n));
        for (float& v : s) v = float(int(rng() % uint32_t(distinct)));
        const std::vector<int32_t> want = SortedTopK(s, k);
        // Pushed in uneven pieces, one selector.
        StreamingTopK one(k);
        for (int64_t i = 0; i < n;) {
          const int64_t m = std::min<int64_t>(n - i, 1 + int64_t(rng() % 300));
          one.Push(&s[size_t(i)], m, int32_t(i));
          i += m;
        }
        std::vector<int32_t> got;
        one.Finish(&got);
        EXPECT_EQ(got, want) << "n " << n << " k " << k << " distinct " << distinct;
        // Split in three ranges (as threads do), merged.
        StreamingTopK parts[3] = {StreamingTopK(k), StreamingTopK(k), StreamingTopK(k)};
        for (int p = 0; p < 3; ++p) {
          const int64_t a = n * p / 3, b = n * (p + 1) / 3;
          parts[p].Push(s.data() + a, b - a, int32_t(a));
        }
        parts[0].Merge(parts[2]);
        parts[0].Merge(parts[1]);
        parts[0].Finish(&got);
        EXPECT_EQ(got, want) << "merged, n " << n << " k " << k;
      }
    }
  }
}

}  // namespace
}  // namespace dsv4::kernels
