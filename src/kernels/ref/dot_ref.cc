// Scalar reference dot products: the definition every SIMD version must match.
#include "core/dtype.h"
#include "kernels/dot.h"

namespace dsv4::kernels {
namespace {

float DotBf16Ref(const float* x, const uint16_t* w, int64_t n) {
  float acc = 0.0f;
  for (int64_t k = 0; k < n; ++k) acc += x[k] * Bf16ToFloat(w[k]);
  return acc;
}

float DotF32Ref(const float* x, const float* w, int64_t n) {
  float acc = 0.0f;
  for (int64_t k = 0; k < n; ++k) acc += x[k] * w[k];
  return acc;
}

float DotE4m3Ref(const float* x, const uint8_t* w, int64_t n) {
  float acc = 0.0f;
  for (int64_t k = 0; k < n; ++k) acc += x[k] * E4m3ToFloat(w[k]);
  return acc;
}

float DotE2m1x32Ref(const float* x, const uint8_t* w) {
  float acc = 0.0f;
  for (int j = 0; j < 16; ++j) {
    acc += x[2 * j] * E2m1ToFloat(w[j] & 15);
    acc += x[2 * j + 1] * E2m1ToFloat(w[j] >> 4);
  }
  return acc;
}

}  // namespace

const DotKernels& RefDotKernels() {
  static const DotKernels k{"ref", DotBf16Ref, DotF32Ref, DotE4m3Ref, DotE2m1x32Ref};
  return k;
}

}  // namespace dsv4::kernels
