// Scalar reference of the fast mode's SwiGLU (kernels/swiglu.h).
#include "core/dtype.h"
#include "kernels/fast_exp.h"
#include "kernels/swiglu.h"

namespace dsv4::kernels {

void SwiGluRef(float* g, const float* u, int64_t T, int64_t I, const float* row_weights, float lim) {
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < I; ++i) {
      float gv = g[t * I + i], uv = u[t * I + i];
      if (lim > 0) {  // as vminps / vmaxps with the limit first: a NaN stays
        uv = lim < uv ? lim : uv;
        uv = -lim > uv ? -lim : uv;
        gv = lim < gv ? lim : gv;
      }
      float h = gv / (1.0f + FastExp(-gv)) * uv;
      if (row_weights) h = row_weights[t] * h;
      g[t * I + i] = RoundBf16(h);
    }
  }
}

}  // namespace dsv4::kernels
