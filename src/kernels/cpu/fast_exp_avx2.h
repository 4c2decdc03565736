// FastExp (kernels/fast_exp.h) on 8 fp32 lanes, for the AVX2+FMA translation units: the
// scalar definition's operations lane by lane (bit-identical for every input but NaN,
// which stays a NaN).
#pragma once

#include <immintrin.h>

#include <cmath>

#include "kernels/fast_exp.h"

namespace dsv4::kernels {

inline __m256 FastExp8(__m256 x) {
  using namespace fast_exp;
  const __m256 over = _mm256_cmp_ps(x, _mm256_set1_ps(kMax), _CMP_GT_OQ);
  const __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(kMin), _CMP_NLT_UQ);  // NaN kept
  x = _mm256_min_ps(_mm256_set1_ps(kMax), x);  // (the lanes over kMax are replaced below)
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 y = _mm256_set1_ps(kPoly[0]);
  for (int i = 1; i < 6; ++i) y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(kPoly[i]));
  y = _mm256_add_ps(_mm256_fmadd_ps(y, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  const __m256i pow2 = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 e = _mm256_and_ps(keep, _mm256_mul_ps(y, _mm256_castsi256_ps(pow2)));
  return _mm256_blendv_ps(e, _mm256_set1_ps(INFINITY), over);
}

}  // namespace dsv4::kernels
