// Tile-order attention scores (kernels/attention_scores.h): the reference against the
// exact dot products, and the AMX version bit-identical to the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/attention_scores.h"

namespace dsv4::kernels {
namespace {

struct Case {
  std::vector<float> q;
  std::vector<std::vector<uint16_t>> keys;
  std::vector<const uint16_t*> ptrs;
};

// Values over `spread` binades around 1, q bf16-exact. spread -1: near the bottom of the
// range, where the tiles flush: even heads' values subnormal (~2^-130) against even keys'
// ~2^0..2^8, odd heads' and keys' ~2^-60 (products and sums around 2^-120 and below).
Case RandomCase(int64_t heads, int64_t n, int64_t d, int spread, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto value = [&](int64_t row, bool query) {
    if (spread < 0) {
      const int e = row % 2 == 0 ? (query ? -130 : int(rng() % 9)) : -60 - int(rng() % 4);
      return normal(rng) * std::ldexp(1.0f, e);
    }
    return normal(rng) * std::ldexp(1.0f, spread ? int(rng() % spread) - spread / 2 : 0);
  };
  Case c;
  for (int64_t i = 0; i < heads * d; ++i) c.q.push_back(RoundBf16(value(i / d, true)));
  c.keys.resize(static_cast<size_t>(n));
  for (size_t u = 0; u < c.keys.size(); ++u) {
    for (int64_t i = 0; i < d; ++i) c.keys[u].push_back(FloatToBf16(value(int64_t(u), false)));
    c.ptrs.push_back(c.keys[u].data());
  }
  return c;
}

TEST(AttentionScoresTest, TileReferenceIsCloseToTheExactDot) {
  std::mt19937 rng(41);
  const int64_t heads = 4, n = 9, d = 512;
  Case c = RandomCase(heads, n, d, 0, rng);
  std::vector<float> got(static_cast<size_t>(heads * n));
  AttentionScoresTileRef(c.q.data(), heads, c.ptrs.data(), n, d, got.data());
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t u = 0; u < n; ++u) {
      double exact = 0.0, scale = 0.0;
      for (int64_t k = 0; k < d; ++k) {
        const double p = double(c.q[size_t(h * d + k)]) * double(Bf16ToFloat(c.keys[size_t(u)][size_t(k)]));
        exact += p;
        scale += std::fabs(p);
      }
      ASSERT_NEAR(got[size_t(h * n + u)], exact, scale * 40 * 6e-8) << h << " " << u;
    }
  }
}

TEST(AttentionScoresTest, AmxIsBitIdenticalToTheTileReference) {
  std::unique_ptr<TileScores> amx = NewTileScoresAmx();
  if (!amx) GTEST_SKIP() << "no AMX";
  std::unique_ptr<TileScores> ref = NewTileScoresRef();
  std::mt19937 rng(42);
  for (int64_t d : {32, 64, 512, 48}) {  // 48: not whole steps (the reference's path)
    for (int64_t heads : {1, 3, 16, 20, 64}) {
      for (int spread : {0, 40, -1}) {
        Case c = RandomCase(heads, 64, d, spread, rng);
        ref->SetQuery(c.q.data(), heads, d);
        amx->SetQuery(c.q.data(), heads, d);
        for (int64_t n : {1, 15, 16, 17, 64}) {  // several blocks against one query
          std::vector<float> want(static_cast<size_t>(heads * n), -1.0f), got(static_cast<size_t>(heads * n), -2.0f);
          ref->Score(c.ptrs.data(), n, want.data());
          amx->Score(c.ptrs.data() + (64 - n), n, got.data());
          ref->Score(c.ptrs.data() + (64 - n), n, want.data());
          ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0)
              << "d " << d << " heads " << heads << " spread " << spread << " n " << n;
        }
      }
    }
  }
}

}  // namespace
}  // namespace dsv4::kernels
