// The sum of an 8-lane fp32 vector in one fixed order ((lane i + lane i+4), then pairs,
// then the last two), shared by the kernels whose bits must agree: the AVX2 dot kernels
// and the AVX-512 fp32 dot that reproduces DotF32Avx2. Include only from translation units
// compiled for AVX (x86-64).
#pragma once

#include <immintrin.h>

namespace dsv4::kernels {

inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace dsv4::kernels
