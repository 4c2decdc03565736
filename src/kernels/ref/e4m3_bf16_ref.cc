// Scalar reference of the e4m3 -> bf16 widening.
#include "core/dtype.h"
#include "kernels/e4m3_bf16.h"

namespace dsv4::kernels {

void E4m3ToBf16Ref(const uint8_t* codes, int64_t n, float scale, uint16_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = FloatToBf16(E4m3ToFloat(codes[i]) * scale);
}

}  // namespace dsv4::kernels
