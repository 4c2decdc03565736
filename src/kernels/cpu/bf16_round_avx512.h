// RoundBf16 (core/dtype.h) on 16 fp32 lanes, for the AVX-512 translation units: round to
// nearest even at bit 16, a NaN kept quiet (its payload's top bits, the quiet bit set),
// results as fp32. Bit-identical to the scalar function for every input.
#pragma once

#include <immintrin.h>

namespace dsv4::kernels {

inline __m512 RoundBf16x16(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb));
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                _mm512_set1_epi32(0x7f800000));
  const __m512i bits = _mm512_mask_or_epi32(rounded, nan, u, _mm512_set1_epi32(0x00400000));
  return _mm512_castsi512_ps(_mm512_and_si512(bits, _mm512_set1_epi32(int(0xffff0000u))));
}

}  // namespace dsv4::kernels
