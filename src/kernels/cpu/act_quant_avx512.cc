// AVX-512F FP8 activation quantisation (see kernels/act_quant.h); this file alone is
// compiled for AVX-512F.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as pass-through operands, which
// its own -W(maybe-)uninitialized then reports inside the header (as in dot_avx512.cc).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "core/dtype.h"
#include "kernels/act_quant.h"

namespace dsv4::kernels {
namespace {

constexpr int64_t kBlock = 128;

// RoundE4m3 (core/dtype.h) on 16 lanes. min(448, a) keeps NaN (the scalar's a > 448 test
// is false for NaN); a < 2^-6 is false for NaN, which takes the bit path like the scalar.
inline __m512 RoundE4m3x16(__m512 v) {
  const __m512i sign_bit = _mm512_set1_epi32(int32_t(0x80000000u));
  const __m512i sign = _mm512_and_si512(_mm512_castps_si512(v), sign_bit);
  __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(sign_bit, _mm512_castps_si512(v)));
  a = _mm512_min_ps(_mm512_set1_ps(448.0f), a);
  // Subnormal range: a uniform grid of 2^-9, round to nearest even.
  const __m512 sub = _mm512_mul_ps(
      _mm512_roundscale_ps(_mm512_mul_ps(a, _mm512_set1_ps(512.0f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
      _mm512_set1_ps(1.0f / 512.0f));
  // Normal range: keep 3 mantissa bits, ties to even.
  __m512i u = _mm512_castps_si512(a);
  u = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7ffff),
                                           _mm512_and_si512(_mm512_srli_epi32(u, 20), _mm512_set1_epi32(1))));
  u = _mm512_andnot_si512(_mm512_set1_epi32(0xfffff), u);
  const __mmask16 small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.015625f), _CMP_LT_OQ);
  const __m512 r = _mm512_mask_blend_ps(small, _mm512_castsi512_ps(u), sub);
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r), sign));
}

void QuantizeActFp8Impl(const float* x, int64_t K, float* q, float* s) {
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
  for (int64_t b = 0; b < K / kBlock; ++b) {
    const float* xb = x + b * kBlock;
    // max(|x|, acc) returns acc when |x| is NaN: the scalar std::max skips NaN too.
    __m512 amax = _mm512_setzero_ps();
    for (int64_t i = 0; i < kBlock; i += 16) {
      const __m512 ax = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(xb + i)), abs_mask));
      amax = _mm512_max_ps(ax, amax);
    }
    const float scale = Fp8Scale(_mm512_reduce_max_ps(amax));
    s[b] = scale;
    // x / 2^e as x * 2^-e: the same exact scaling, one rounding (vdivps costs ~10x a
    // multiply); a scale whose reciprocal is not a normal float (2^127, inf) divides.
    const bool reciprocal = scale <= 0x1p126f;
    const __m512 vs = _mm512_set1_ps(reciprocal ? 1.0f / scale : scale);
    for (int64_t i = 0; i < kBlock; i += 16) {
      const __m512 xi = _mm512_loadu_ps(xb + i);
      // The scalar clamps to ±448 first; RoundE4m3 saturates the same way, NaN passes.
      _mm512_storeu_ps(q + b * kBlock + i, RoundE4m3x16(reciprocal ? _mm512_mul_ps(xi, vs) : _mm512_div_ps(xi, vs)));
    }
  }
}

}  // namespace

QuantizeActFp8Fn QuantizeActFp8Avx512() {
  static const QuantizeActFp8Fn fn = [] {
    return __builtin_cpu_supports("avx512f") ? QuantizeActFp8Fn(QuantizeActFp8Impl) : nullptr;
  }();
  return fn;
}

}  // namespace dsv4::kernels
