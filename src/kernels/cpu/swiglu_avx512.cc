// AVX-512 fast-mode SwiGLU (kernels/swiglu.h): 16 columns a vector, the reference's
// operations lane by lane.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as pass-through operands, which
// its own -W(maybe-)uninitialized then reports inside the header (as in dot_avx512.cc).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "kernels/cpu/bf16_round_avx512.h"
#include "kernels/cpu/fast_exp_avx512.h"
#include "kernels/swiglu.h"

namespace dsv4::kernels {
namespace {

void SwiGluAvx512Impl(float* g, const float* u, int64_t T, int64_t I, const float* row_weights, float lim) {
  const __m512 hi = _mm512_set1_ps(lim), lo = _mm512_set1_ps(-lim), one = _mm512_set1_ps(1.0f);
  for (int64_t t = 0; t < T; ++t) {
    float* gt = g + t * I;
    const float* ut = u + t * I;
    const __m512 w = _mm512_set1_ps(row_weights ? row_weights[t] : 1.0f);
    for (int64_t i = 0; i < I; i += 16) {
      const __mmask16 k = I - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (I - i)) - 1);
      __m512 gv = _mm512_maskz_loadu_ps(k, gt + i), uv = _mm512_maskz_loadu_ps(k, ut + i);
      if (lim > 0) {
        uv = _mm512_max_ps(lo, _mm512_min_ps(hi, uv));
        gv = _mm512_min_ps(hi, gv);
      }
      const __m512 neg = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(gv), _mm512_set1_epi32(int(0x80000000u))));
      __m512 h = _mm512_mul_ps(_mm512_div_ps(gv, _mm512_add_ps(one, FastExp16(neg))), uv);
      if (row_weights) h = _mm512_mul_ps(w, h);
      _mm512_mask_storeu_ps(gt + i, k, RoundBf16x16(h));
    }
  }
}

}  // namespace

SwiGluFn SwiGluAvx512() {
  static const bool supported = __builtin_cpu_supports("avx512f");
  return supported ? SwiGluAvx512Impl : nullptr;
}

}  // namespace dsv4::kernels
