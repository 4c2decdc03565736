// Scalar definitions of the tile-order attention products (kernels/attention_pv.h,
// kernels/attention_scores.h): the tile unit's arithmetic (kernels/tile_order.h).
#include <cmath>
#include <memory>
#include <vector>

#include "core/dtype.h"
#include "kernels/attention_pv.h"
#include "kernels/attention_scores.h"

namespace dsv4::kernels {
namespace {

// The tile unit's flush of subnormal inputs (DAZ) and results (FTZ) to a zero of their sign.
float FlushSubnormal(float x) { return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.0f, x) : x; }

}  // namespace

void AttentionPvTileRef(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
                        int64_t n, int64_t d, float* out) {
  for (int64_t h = 0; h < heads; ++h) {
    const float* ph = p + h * p_stride;
    for (int64_t i = 0; i < d; ++i) {
      float c = 0.0f;
      for (int64_t u0 = 0; u0 < n; u0 += 32) {
        // A padding key (u >= n) has p = v = 0, as in the zeroed tile rows.
        auto product = [&](int64_t u, float acc) {
          const float pu = u < n ? FlushSubnormal(ph[u]) : 0.0f;
          const float vu = u < n ? FlushSubnormal(Bf16ToFloat(v[u][i])) : 0.0f;
          return FlushSubnormal(std::fma(pu, vu, acc));
        };
        float e = 0.0f, o = 0.0f;
        for (int64_t j = 0; j < 16; ++j) {
          e = product(u0 + 2 * j, e);
          o = product(u0 + 2 * j + 1, o);
        }
        c = FlushSubnormal(c + FlushSubnormal(e + o));
      }
      out[h * d + i] = c;
    }
  }
}


void AttentionScoresTileRef(const float* q, int64_t heads, const uint16_t* const* keys, int64_t n, int64_t d,
                            float* out) {
  for (int64_t h = 0; h < heads; ++h) {
    const float* qh = q + h * d;
    for (int64_t u = 0; u < n; ++u) {
      // A padding value (k >= d) is 0 in both, as in the zeroed tile columns.
      auto product = [&](int64_t k, float acc) {
        const float a = k < d ? FlushSubnormal(RoundBf16(qh[k])) : 0.0f;
        const float b = k < d ? FlushSubnormal(Bf16ToFloat(keys[u][k])) : 0.0f;
        return FlushSubnormal(std::fma(a, b, acc));
      };
      float c = 0.0f;
      for (int64_t k0 = 0; k0 < d; k0 += 32) {
        float e = 0.0f, o = 0.0f;
        for (int64_t i = 0; i < 16; ++i) {
          e = product(k0 + 2 * i, e);
          o = product(k0 + 2 * i + 1, o);
        }
        c = FlushSubnormal(c + FlushSubnormal(e + o));
      }
      out[h * n + u] = c;
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
