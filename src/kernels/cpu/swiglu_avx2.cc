// AVX2 fast-mode SwiGLU (kernels/swiglu.h; compiled with -mavx2 -mfma): 8 columns a
// vector, the reference's operations lane by lane.
#include <immintrin.h>

#include "core/dtype.h"
#include "kernels/cpu/bf16_round_avx2.h"
#include "kernels/cpu/fast_exp_avx2.h"
#include "kernels/swiglu.h"

namespace dsv4::kernels {
namespace {

void SwiGluAvx2Impl(float* g, const float* u, int64_t T, int64_t I, const float* row_weights, float lim) {
  const __m256 hi = _mm256_set1_ps(lim), lo = _mm256_set1_ps(-lim), one = _mm256_set1_ps(1.0f);
  const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32(int(0x80000000u)));
  for (int64_t t = 0; t < T; ++t) {
    float* gt = g + t * I;
    const float* ut = u + t * I;
    const __m256 w = _mm256_set1_ps(row_weights ? row_weights[t] : 1.0f);
    int64_t i = 0;
    for (; i + 8 <= I; i += 8) {
      __m256 gv = _mm256_loadu_ps(gt + i), uv = _mm256_loadu_ps(ut + i);
      if (lim > 0) {
        uv = _mm256_max_ps(lo, _mm256_min_ps(hi, uv));
        gv = _mm256_min_ps(hi, gv);
      }
      __m256 h = _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(one, FastExp8(_mm256_xor_ps(gv, sign)))), uv);
      if (row_weights) h = _mm256_mul_ps(w, h);
      _mm256_storeu_ps(gt + i, RoundBf16x8(h));
    }
    if (i < I) SwiGluRef(gt + i, ut + i, 1, I - i, row_weights ? row_weights + t : nullptr, lim);  // tail columns
  }
}

}  // namespace

SwiGluFn SwiGluAvx2() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported ? SwiGluAvx2Impl : nullptr;
}

}  // namespace dsv4::kernels
