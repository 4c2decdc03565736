// AVX-512 HcPostRow (kernels/hc_post.h), bit-identical to HcPostRowRef: 16 dimensions at a
// time, the fp32 products widened to double and summed in j order in two 8-lane halves,
// narrowed once, then the fp32 multiply and add and the bf16 rounding.
#include <immintrin.h>

#include "kernels/cpu/bf16_round_avx512.h"
#include "kernels/hc_post.h"

namespace dsv4::kernels {
namespace {

void HcPostRow(const float* f, const float* x, const float* comb, const float* post, int64_t hc,
               int64_t D, float* out) {
  const int64_t D16 = D / 16 * 16;
  for (int64_t k = 0; k < hc; ++k) {
    const __m512 pk = _mm512_set1_ps(post[k]);
    for (int64_t d = 0; d < D16; d += 16) {
      __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
      for (int64_t j = 0; j < hc; ++j) {
        const __m512 p = _mm512_mul_ps(_mm512_set1_ps(comb[j * hc + k]), _mm512_loadu_ps(x + j * D + d));
        lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(p)));
        hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(p), 1))));
      }
      const __m512 s = _mm512_castpd_ps(_mm512_insertf64x4(
          _mm512_castps_pd(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo))), _mm256_castps_pd(_mm512_cvtpd_ps(hi)), 1));
      const __m512 r = _mm512_add_ps(_mm512_mul_ps(pk, _mm512_loadu_ps(f + d)), s);
      _mm512_storeu_ps(out + k * D + d, RoundBf16x16(r));
    }
  }
  if (D16 < D) {  // the last D % 16 dimensions of every stream: the reference on a slice
    for (int64_t k = 0; k < hc; ++k) {
      for (int64_t d = D16; d < D; ++d) {
        double s = 0.0;
        for (int64_t j = 0; j < hc; ++j) s += double(comb[j * hc + k] * x[j * D + d]);
        out[k * D + d] = _mm_cvtss_f32(_mm512_castps512_ps128(RoundBf16x16(_mm512_set1_ps(post[k] * f[d] + float(s)))));
      }
    }
  }
}

}  // namespace

HcPostRowFn HcPostRowAvx512() {
  static const HcPostRowFn fn = __builtin_cpu_supports("avx512f") ? HcPostRow : nullptr;
  return fn;
}

}  // namespace dsv4::kernels
