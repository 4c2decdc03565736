#include "core/dtype.h"
#include "kernels/gemv.h"

namespace dsv4::kernels {

void Bf16GemvRef(const uint16_t* x, const uint16_t* w, int64_t K, int64_t rows, float* out) {
  for (int64_t i = 0; i < rows; ++i) {
    const uint16_t* wi = w + i * K;
    float acc = 0.0f;
    for (int64_t k = 0; k < K; ++k) acc += Bf16ToFloat(x[k]) * Bf16ToFloat(wi[k]);
    out[i] = acc;
  }
}

}  // namespace dsv4::kernels
