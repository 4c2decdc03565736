// FastExp (kernels/fast_exp.h) on 16 fp32 lanes, for the AVX-512 translation units:
// the scalar definition's operations lane by lane (bit-identical for every input but
// NaN, which stays a NaN).
#pragma once

#include <immintrin.h>

#include <cmath>

#include "kernels/fast_exp.h"

namespace dsv4::kernels {

inline __m512 FastExp16(__m512 x) {
  using namespace fast_exp;
  const __mmask16 over = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kMax), _CMP_GT_OQ);
  const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kMin), _CMP_NLT_UQ);  // NaN kept
  x = _mm512_min_ps(_mm512_set1_ps(kMax), x);  // (the lanes over kMax are replaced below)
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 y = _mm512_set1_ps(kPoly[0]);
  for (int i = 1; i < 6; ++i) y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(kPoly[i]));
  y = _mm512_add_ps(_mm512_fmadd_ps(y, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  const __m512i pow2 = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  const __m512 e = _mm512_maskz_mul_ps(keep, y, _mm512_castsi512_ps(pow2));
  return _mm512_mask_mov_ps(e, over, _mm512_set1_ps(INFINITY));
}

}  // namespace dsv4::kernels
