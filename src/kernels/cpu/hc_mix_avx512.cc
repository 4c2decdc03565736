// AVX-512 HcPostRow (kernels/hc_mix.h), bit-identical to HcPostRowRef: 16 dimensions at a
// time, the fp32 products widened to double and summed in j order in two 8-lane halves,
// narrowed once, then the fp32 multiply and add and the bf16 rounding.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as pass-through operands, which
// its own -W(maybe-)uninitialized then reports inside the header (as in dot_avx512.cc).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "core/dtype.h"
#include "kernels/cpu/bf16_round_avx512.h"
#include "kernels/hc_mix.h"

namespace dsv4::kernels {
namespace {

// fp32(Σ_j fp32(w(j) · x[j][d..d+16))) with the sum in double from 0 in j order (two
// 8-lane halves), rounded to fp32 once.
template <typename Weight>
inline __m512 StreamSum16(const float* x, int64_t hc, int64_t D, int64_t d, Weight w) {
  __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
  for (int64_t j = 0; j < hc; ++j) {
    const __m512 p = _mm512_mul_ps(_mm512_set1_ps(w(j)), _mm512_loadu_ps(x + j * D + d));
    lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(p)));
    hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(p), 1))));
  }
  return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo))),
                                             _mm256_castps_pd(_mm512_cvtpd_ps(hi)), 1));
}

void HcPostRow(const float* f, const float* x, const float* comb, const float* post, int64_t hc,
               int64_t D, float* out) {
  const int64_t D16 = D / 16 * 16;
  for (int64_t k = 0; k < hc; ++k) {
    const auto w = [&](int64_t j) { return comb[j * hc + k]; };
    const __m512 pk = _mm512_set1_ps(post[k]);
    for (int64_t d = 0; d < D16; d += 16) {
      const __m512 r = _mm512_add_ps(_mm512_mul_ps(pk, _mm512_loadu_ps(f + d)), StreamSum16(x, hc, D, d, w));
      _mm512_storeu_ps(out + k * D + d, RoundBf16x16(r));
    }
    for (int64_t d = D16; d < D; ++d) {
      double s = 0.0;
      for (int64_t j = 0; j < hc; ++j) s += double(w(j) * x[j * D + d]);
      out[k * D + d] = RoundBf16(post[k] * f[d] + float(s));
    }
  }
}

void HcSumRow(const float* x, const float* w, int64_t hc, int64_t D, float* out) {
  const int64_t D16 = D / 16 * 16;
  const auto wj = [&](int64_t j) { return w[j]; };
  for (int64_t d = 0; d < D16; d += 16) _mm512_storeu_ps(out + d, RoundBf16x16(StreamSum16(x, hc, D, d, wj)));
  for (int64_t d = D16; d < D; ++d) {
    double s = 0.0;
    for (int64_t j = 0; j < hc; ++j) s += double(w[j] * x[j * D + d]);
    out[d] = RoundBf16(float(s));
  }
}

}  // namespace

HcPostRowFn HcPostRowAvx512() {
  static const HcPostRowFn fn = __builtin_cpu_supports("avx512f") ? HcPostRow : nullptr;
  return fn;
}

HcSumRowFn HcSumRowAvx512() {
  static const HcSumRowFn fn = __builtin_cpu_supports("avx512f") ? HcSumRow : nullptr;
  return fn;
}

}  // namespace dsv4::kernels
