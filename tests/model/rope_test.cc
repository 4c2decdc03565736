// RopeTable's split form (Angles once per row, ApplyAngles per head) against Apply: the
// attention and indexer use the split form, so it must give Apply's bits exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "model/forward/ops.h"

namespace dsv4 {
namespace {

TEST(RopeTest, AnglesThenApplyAnglesEqualsApplyBitForBit) {
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  // V4's two kinds of table: plain (window layers) and YaRN-scaled (compressed layers).
  const RopeTable tables[] = {RopeTable(64, 10000.0, 1.0, 0, 32.0, 1.0),
                              RopeTable(64, 160000.0, 16.0, 65536, 32.0, 1.0)};
  for (const RopeTable& rope : tables) {
    for (int64_t pos : {int64_t(0), int64_t(1), int64_t(127), int64_t(65537), int64_t(1048575)}) {
      float cos[kMaxRopePairs], sin[kMaxRopePairs];
      rope.Angles(pos, cos, sin);
      for (bool inverse : {false, true}) {
        std::vector<float> a(64), b;
        for (float& v : a) v = RoundBf16(dist(rng));
        b = a;
        rope.Apply(a.data(), pos, inverse);
        rope.ApplyAngles(b.data(), cos, sin, inverse);
        EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << "pos " << pos << " inverse " << inverse;
      }
    }
    // Position 0 rotates by nothing: the values come back (already bf16).
    std::vector<float> v(64);
    for (float& x : v) x = RoundBf16(dist(rng));
    std::vector<float> w = v;
    rope.Apply(w.data(), 0, false);
    EXPECT_EQ(v, w);
  }
}

}  // namespace
}  // namespace dsv4
