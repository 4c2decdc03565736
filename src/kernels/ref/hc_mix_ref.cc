#include "core/dtype.h"
#include "kernels/hc_mix.h"

namespace dsv4::kernels {

void HcPostRowRef(const float* f, const float* x, const float* comb, const float* post, int64_t hc,
                  int64_t D, float* out) {
  for (int64_t k = 0; k < hc; ++k) {
    for (int64_t d = 0; d < D; ++d) {
      double s = 0.0;
      for (int64_t j = 0; j < hc; ++j) s += double(comb[j * hc + k] * x[j * D + d]);
      out[k * D + d] = RoundBf16(post[k] * f[d] + float(s));
    }
  }
}

void HcSumRowRef(const float* x, const float* w, int64_t hc, int64_t D, float* out) {
  for (int64_t d = 0; d < D; ++d) {
    double s = 0.0;
    for (int64_t j = 0; j < hc; ++j) s += double(w[j] * x[j * D + d]);
    out[d] = RoundBf16(float(s));
  }
}

}  // namespace dsv4::kernels
