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

}  // namespace dsv4::kernels
