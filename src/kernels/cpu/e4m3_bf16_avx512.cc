// AVX-512 e4m3 -> bf16 widening (this file alone is compiled with -mavx512f -mavx512bw):
// 16 codes at a time through a gather from the reference's decode table, the fp32
// product with the scale (the same IEEE operation as the reference's), then the
// reference's bf16 rounding (RNE; NaN to quiet NaN) in integer lanes.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as pass-through operands, which
// its own -W(maybe-)uninitialized then reports inside the header (a known false alarm).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "core/dtype.h"
#include "kernels/e4m3_bf16.h"

namespace dsv4::kernels {
namespace {

void E4m3ToBf16Avx512Impl(const uint8_t* codes, int64_t n, float scale, uint16_t* out) {
  const __m512 s = _mm512_set1_ps(scale);
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  const __m512i one = _mm512_set1_epi32(1), half = _mm512_set1_epi32(0x7fff), quiet = _mm512_set1_epi32(0x40);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i)));
    const __m512i u = _mm512_castps_si512(_mm512_mul_ps(_mm512_i32gather_ps(idx, kE4m3Table, 4), s));
    const __m512i hi = _mm512_srli_epi32(u, 16);
    const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(half, _mm512_and_si512(hi, one))), 16);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs_mask), inf);
    const __m512i r = _mm512_mask_or_epi32(rounded, nan, hi, quiet);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm512_cvtepi32_epi16(r));
  }
  E4m3ToBf16Ref(codes + i, n - i, scale, out + i);
}

}  // namespace

E4m3ToBf16Fn E4m3ToBf16Avx512() {
  static const bool supported = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  return supported ? E4m3ToBf16Avx512Impl : nullptr;
}

}  // namespace dsv4::kernels
