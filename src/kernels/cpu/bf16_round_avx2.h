// RoundBf16 (core/dtype.h) on 8 fp32 lanes, for the AVX2 translation units (as
// bf16_round_avx512.h): bit-identical to the scalar function for every input.
#pragma once

#include <immintrin.h>

namespace dsv4::kernels {

// Nearest even at bit 16, a NaN kept quiet (its payload's top bits, the quiet bit set).
inline __m256 RoundBf16x8(__m256 x) {
  const __m256i u = _mm256_castps_si256(x);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb));
  const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
  const __m256i bits = _mm256_blendv_epi8(rounded, _mm256_or_si256(u, _mm256_set1_epi32(0x00400000)), nan);
  return _mm256_castsi256_ps(_mm256_and_si256(bits, _mm256_set1_epi32(int(0xffff0000u))));
}

}  // namespace dsv4::kernels
