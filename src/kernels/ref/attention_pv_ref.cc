// Scalar reference of the attention P·V block sum.
#include <cmath>

#include "core/dtype.h"
#include "kernels/attention_pv.h"

namespace dsv4::kernels {

void AttentionPvRef(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
                    int64_t n, int64_t d, double* out) {
  for (int64_t h = 0; h < heads; ++h) {
    double* oh = out + h * d;
    for (int64_t i = 0; i < d; ++i) oh[i] = 0.0;
    for (int64_t u = 0; u < n; ++u) {
      const double pu = p[h * p_stride + u];
      for (int64_t i = 0; i < d; ++i) oh[i] += pu * double(Bf16ToFloat(v[u][i]));
    }
  }
}

void AttentionPvF32Ref(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
                       int64_t n, int64_t d, float* out) {
  for (int64_t h = 0; h < heads; ++h) {
    float* oh = out + h * d;
    for (int64_t i = 0; i < d; ++i) oh[i] = 0.0f;
    for (int64_t u = 0; u < n; ++u) {
      const float pu = p[h * p_stride + u];
      for (int64_t i = 0; i < d; ++i) oh[i] = std::fma(pu, Bf16ToFloat(v[u][i]), oh[i]);
    }
  }
}

}  // namespace dsv4::kernels
