// Scalar references of the attention P·V block sums (f64 and fp32).
#include <cmath>

#include "core/dtype.h"
#include "kernels/attention_pv.h"

namespace dsv4::kernels {
namespace {

// out[h][i] = Σ_u p[h][u] · v[u][i] in key order, in T: a fused multiply-add per key (the
// product of a bf16 probability and a bf16 value is exact in float and double, so this
// is the multiply then one rounded add).
template <typename T>
void BlockSumsRef(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v, int64_t n,
                  int64_t d, T* out) {
  for (int64_t h = 0; h < heads; ++h) {
    T* oh = out + h * d;
    for (int64_t i = 0; i < d; ++i) oh[i] = 0;
    for (int64_t u = 0; u < n; ++u) {
      const T pu = p[h * p_stride + u];
      for (int64_t i = 0; i < d; ++i) oh[i] = std::fma(pu, T(Bf16ToFloat(v[u][i])), oh[i]);
    }
  }
}

}  // namespace

void AttentionPvRef(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
                    int64_t n, int64_t d, double* out) {
  BlockSumsRef(p, p_stride, heads, v, n, d, out);
}

void AttentionPvF32Ref(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
                       int64_t n, int64_t d, float* out) {
  BlockSumsRef(p, p_stride, heads, v, n, d, out);
}

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

}  // namespace dsv4::kernels
