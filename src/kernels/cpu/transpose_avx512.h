// A 16 x 16 transpose of dwords in AVX-512 registers, for the AMX translation units
// (tile layouts: linear_amx.cc, attention_amx.cc).
#pragma once

#include <immintrin.h>

namespace dsv4::kernels {

// 16 x 16 dwords: out[p] lane i = r[i] lane p (unpacks within 128-bit lanes, then the
// 4 x 4 transpose of 128-bit lanes).
inline void Transpose16x16(const __m512i* r, __m512i* out) {
  __m512i t[16], u[16];
  for (int a = 0; a < 8; ++a) {
    t[2 * a] = _mm512_unpacklo_epi32(r[2 * a], r[2 * a + 1]);
    t[2 * a + 1] = _mm512_unpackhi_epi32(r[2 * a], r[2 * a + 1]);
  }
  for (int b = 0; b < 4; ++b) {  // u[4b + q] lane L: rows 4b..4b+3 of p = 4L + q
    u[4 * b + 0] = _mm512_unpacklo_epi64(t[4 * b + 0], t[4 * b + 2]);
    u[4 * b + 1] = _mm512_unpackhi_epi64(t[4 * b + 0], t[4 * b + 2]);
    u[4 * b + 2] = _mm512_unpacklo_epi64(t[4 * b + 1], t[4 * b + 3]);
    u[4 * b + 3] = _mm512_unpackhi_epi64(t[4 * b + 1], t[4 * b + 3]);
  }
  for (int q = 0; q < 4; ++q) {
    const __m512i v0 = _mm512_shuffle_i32x4(u[q], u[4 + q], 0x44), v1 = _mm512_shuffle_i32x4(u[q], u[4 + q], 0xEE);
    const __m512i v2 = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0x44);
    const __m512i v3 = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0xEE);
    out[q] = _mm512_shuffle_i32x4(v0, v2, 0x88);
    out[4 + q] = _mm512_shuffle_i32x4(v0, v2, 0xDD);
    out[8 + q] = _mm512_shuffle_i32x4(v1, v3, 0x88);
    out[12 + q] = _mm512_shuffle_i32x4(v1, v3, 0xDD);
  }
}

}  // namespace dsv4::kernels
