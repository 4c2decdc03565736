// Scalar definitions of the tile-order attention products (kernels/attention_pv.h,
// kernels/attention_scores.h): the tile unit's arithmetic (kernels/tile_order.h).
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "kernels/attention_pv.h"
#include "kernels/attention_scores.h"

namespace dsv4::kernels {
namespace {

// The tile unit's flush of subnormal inputs (DAZ) and results (FTZ) to a zero of their sign.
float FlushSubnormal(float x) { return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.0f, x) : x; }

// Σ_j a_j · b_j over j < n as the tile unit sums it: 32 terms a step, in order (the last
// step padded with zero terms, as zeroed tile rows or columns), per step E and O the fused
// multiply-add chains over its even and odd terms, c = c + (E + O), every input and result
// flushed. factors(j) gives (a_j, b_j) for j < n.
template <typename Factors>
float TileOrderSum(int64_t n, Factors factors) {
  auto step = [&](int64_t j, float acc) {
    if (j >= n) return FlushSubnormal(std::fma(0.0f, 0.0f, acc));
    const auto [a, b] = factors(j);
    return FlushSubnormal(std::fma(FlushSubnormal(a), FlushSubnormal(b), acc));
  };
  float c = 0.0f;
  for (int64_t j0 = 0; j0 < n; j0 += 32) {
    float e = 0.0f, o = 0.0f;
    for (int64_t i = 0; i < 16; ++i) {
      e = step(j0 + 2 * i, e);
      o = step(j0 + 2 * i + 1, o);
    }
    c = FlushSubnormal(c + FlushSubnormal(e + o));
  }
  return c;
}

}  // namespace

void AttentionPvTileRef(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
                        int64_t n, int64_t d, float* out) {
  for (int64_t h = 0; h < heads; ++h) {
    const float* ph = p + h * p_stride;
    for (int64_t i = 0; i < d; ++i) {
      out[h * d + i] = TileOrderSum(n, [&](int64_t u) { return std::pair(ph[u], Bf16ToFloat(v[u][i])); });
    }
  }
}

void AttentionScoresTileRef(const float* q, int64_t heads, const uint16_t* const* keys, int64_t n, int64_t d,
                            float* out) {
  for (int64_t h = 0; h < heads; ++h) {
    const float* qh = q + h * d;
    for (int64_t u = 0; u < n; ++u) {
      out[h * n + u] = TileOrderSum(d, [&](int64_t k) { return std::pair(RoundBf16(qh[k]), Bf16ToFloat(keys[u][k])); });
    }
  }
}

namespace {

class TileScoresRefImpl : public TileScores {
 public:
  void SetQuery(const float* q, int64_t heads, int64_t d) override {
    q_.assign(q, q + heads * d);
    heads_ = heads;
    d_ = d;
  }
  void Score(const uint16_t* const* keys, int64_t n, float* out) override {
    AttentionScoresTileRef(q_.data(), heads_, keys, n, d_, out);
  }

 private:
  std::vector<float> q_;
  int64_t heads_ = 0, d_ = 0;
};

}  // namespace

std::unique_ptr<TileScores> NewTileScoresRef() { return std::make_unique<TileScoresRefImpl>(); }

}  // namespace dsv4::kernels
