// AVX2+FMA dot kernels (this file alone is compiled with -mavx2 -mfma -mf16c).
// Each matches its scalar reference in ref/dot_ref.cc up to summation order:
// the SIMD versions keep several 8-lane accumulators and reduce them at the end.
//
// Weight decoding (choices measured in bench/README.md):
//   bf16: zero-extend u16 -> u32 and shift left 16 (exact fp32).
//   e4m3: re-bias into an fp16 bit pattern (sign | exp,man << 7), convert with
//         F16C (handles e4m3 subnormals exactly) and scale the sum by 2^8 once;
//         NaN codes (0x7F/0xFF) are flagged with a byte compare and give NaN as in the
//         reference table. (A 256-entry table gather and an fp32 bit-build with a
//         subnormal blend were both slower.)
//   e2m1: one pshufb on a table of 2*e2m1 as int8 ({0,1,2,3,4,6,8,12} and negatives),
//         int8 -> fp32, and scale the sum by 0.5 once. (A permutevar8x32 table lookup
//         with the sign from bit 3 was slower.)
// Scaling a sum by a power of two is exact, so these add no rounding of their own.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/horizontal_sum_avx2.h"
#include "kernels/dot.h"

namespace dsv4::kernels {
namespace {

// Lane mask with the first `n` (0..8) lanes set, for masked loads of tails.
inline __m256i TailMask(int64_t n) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), lanes);
}

// 8 bf16 values -> 8 fp32.
inline __m256 LoadBf16x8(const uint16_t* w) {
  __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
}

float DotBf16Avx2(const float* x, const uint16_t* w, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 32 <= n; k += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), LoadBf16x8(w + k), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 8), LoadBf16x8(w + k + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 16), LoadBf16x8(w + k + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 24), LoadBf16x8(w + k + 24), a3);
  }
  for (; k + 8 <= n; k += 8) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), LoadBf16x8(w + k), a0);
  }
  if (k < n) {
    uint16_t tail[8] = {};
    std::memcpy(tail, w + k, size_t(n - k) * sizeof(uint16_t));
    __m256 xv = _mm256_maskload_ps(x + k, TailMask(n - k));
    a1 = _mm256_fmadd_ps(xv, LoadBf16x8(tail), a1);
  }
  return HorizontalSum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

float DotF32Avx2(const float* x, const float* w, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 32 <= n; k += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), _mm256_loadu_ps(w + k), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 8), _mm256_loadu_ps(w + k + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 16), _mm256_loadu_ps(w + k + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 24), _mm256_loadu_ps(w + k + 24), a3);
  }
  for (; k + 8 <= n; k += 8) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), _mm256_loadu_ps(w + k), a0);
  }
  if (k < n) {
    __m256i m = TailMask(n - k);
    a1 = _mm256_fmadd_ps(_mm256_maskload_ps(x + k, m), _mm256_maskload_ps(w + k, m), a1);
  }
  return HorizontalSum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

// e4m3 -> fp16 (F16C): fp16 has 5 exponent bits (bias 15) where e4m3 has 4 (bias 7), so
// placing the code's 7 exponent+mantissa bits at fp16 bits 7..13 (sign at bit 15) gives
// 2^(e-15) * 1.m = e4m3 * 2^-8, and e4m3 subnormals land on fp16 subnormals
// (m * 2^-17 = m * 2^-9 * 2^-8) with no special case. The caller scales the sum by 2^8.
// Unpacking a code byte above a zero byte gives code << 8 (sign at bit 15); an
// arithmetic shift right by 1 moves exponent+mantissa to bits 7..13 and copies the sign
// into bit 14, which the mask clears.
struct E4m3Acc {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  __m256i nan = _mm256_setzero_si256();  // lanes of NaN codes (0x7F / 0xFF) seen

  // Accumulates x[0..32) * e4m3(w[0..32)) * 2^-8.
  inline void Step32(const float* x, const uint8_t* w) {
    const __m256i zero = _mm256_setzero_si256();
    const __m256i low7 = _mm256_set1_epi8(0x7F);
    const __m256i mask = _mm256_set1_epi16(int16_t(0xBF80));
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    nan = _mm256_or_si256(nan, _mm256_cmpeq_epi8(_mm256_and_si256(b, low7), low7));
    // Per 128-bit lane: lo = codes 0..7 | 16..23, hi = codes 8..15 | 24..31.
    __m256i lo = _mm256_and_si256(_mm256_srai_epi16(_mm256_unpacklo_epi8(zero, b), 1), mask);
    __m256i hi = _mm256_and_si256(_mm256_srai_epi16(_mm256_unpackhi_epi8(zero, b), 1), mask);
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x), _mm256_cvtph_ps(_mm256_castsi256_si128(lo)), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8), _mm256_cvtph_ps(_mm256_castsi256_si128(hi)), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 16), _mm256_cvtph_ps(_mm256_extracti128_si256(lo, 1)),
                         a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 24), _mm256_cvtph_ps(_mm256_extracti128_si256(hi, 1)),
                         a3);
  }

  inline float Sum() const {
    if (!_mm256_testz_si256(nan, nan)) return __builtin_nanf("");
    return HorizontalSum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3))) * 256.0f;
  }
};

float DotE4m3Avx2(const float* x, const uint8_t* w, int64_t n) {
  E4m3Acc acc;
  int64_t k = 0;
  for (; k + 32 <= n; k += 32) acc.Step32(x + k, w + k);
  if (k < n) {  // 1..31 left: zero-padded copies (code 0x00 = +0, activation 0)
    alignas(32) float xt[32] = {};
    alignas(32) uint8_t wt[32] = {};
    std::memcpy(xt, x + k, size_t(n - k) * sizeof(float));
    std::memcpy(wt, w + k, size_t(n - k));
    acc.Step32(xt, wt);
  }
  return acc.Sum();
}

inline float DotE2m1x32Inline(const float* x, const uint8_t* w) {
  // 2 * e2m1(code) for codes 0..15.
  const __m128i table = _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
  const __m128i low4 = _mm_set1_epi8(0x0F);
  __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
  __m128i lo = _mm_and_si128(b, low4);                              // even k
  __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), low4);           // odd k
  __m128i v0 = _mm_shuffle_epi8(table, _mm_unpacklo_epi8(lo, hi));  // k = 0..15
  __m128i v1 = _mm_shuffle_epi8(table, _mm_unpackhi_epi8(lo, hi));  // k = 16..31
  __m256 w0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v0));
  __m256 w1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(v0, v0)));
  __m256 w2 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v1));
  __m256 w3 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(v1, v1)));
  __m256 a0 = _mm256_mul_ps(_mm256_loadu_ps(x), w0);
  __m256 a1 = _mm256_mul_ps(_mm256_loadu_ps(x + 8), w1);
  a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 16), w2, a0);
  a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 24), w3, a1);
  return HorizontalSum(_mm256_add_ps(a0, a1)) * 0.5f;
}

float DotE2m1x32Avx2(const float* x, const uint8_t* w) { return DotE2m1x32Inline(x, w); }

float DotE2m1RowAvx2(const float* x, const uint8_t* w, const float* scales, int64_t chunks) {
  float acc = 0.0f;
  for (int64_t c = 0; c < chunks; ++c) acc += DotE2m1x32Inline(x + 32 * c, w + 16 * c) * scales[c];
  return acc;
}

// 32 e2m1 codes (16 bytes) -> 4 x 8 fp32 holding 2 * value.
inline void DecodeE2m1x32(const uint8_t* w, __m256* v) {
  const __m128i table = _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
  const __m128i low4 = _mm_set1_epi8(0x0F);
  __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
  __m128i lo = _mm_and_si128(b, low4);
  __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), low4);
  __m128i v0 = _mm_shuffle_epi8(table, _mm_unpacklo_epi8(lo, hi));
  __m128i v1 = _mm_shuffle_epi8(table, _mm_unpackhi_epi8(lo, hi));
  v[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v0));
  v[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(v0, v0)));
  v[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v1));
  v[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(v1, v1)));
}

// 32 e4m3 codes -> 4 x 8 fp32 holding value * 2^-8 (see E4m3Acc), in k order.
inline void DecodeE4m3x32(const uint8_t* w, __m256* v) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i mask = _mm256_set1_epi16(int16_t(0xBF80));
  __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
  __m256i lo = _mm256_and_si256(_mm256_srai_epi16(_mm256_unpacklo_epi8(zero, b), 1), mask);
  __m256i hi = _mm256_and_si256(_mm256_srai_epi16(_mm256_unpackhi_epi8(zero, b), 1), mask);
  v[0] = _mm256_cvtph_ps(_mm256_castsi256_si128(lo));
  v[1] = _mm256_cvtph_ps(_mm256_castsi256_si128(hi));
  v[2] = _mm256_cvtph_ps(_mm256_extracti128_si256(lo, 1));
  v[3] = _mm256_cvtph_ps(_mm256_extracti128_si256(hi, 1));
}

// Per 32 weights and per row: the chunk's products in two vectors, then acc += chunk · s
// (s the power-of-two scale times the decoders' factor). One horizontal sum per row.
template <int R, void (*Decode)(const uint8_t*, __m256*), int kCodeBytes, int kScaleBlock>
void ScaledRows(const float* const* x, const uint8_t* w, const float* scales, float factor,
                int64_t n, float* out) {
  __m256 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t k = 0; k < n; k += 32) {
    __m256 v[4];
    Decode(w + k * kCodeBytes / 32, v);
    const __m256 s = _mm256_set1_ps(scales[k / kScaleBlock] * factor);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const float* xr = x[r] + k;
      __m256 a0 = _mm256_mul_ps(_mm256_loadu_ps(xr), v[0]);
      __m256 a1 = _mm256_mul_ps(_mm256_loadu_ps(xr + 8), v[1]);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xr + 16), v[2], a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(xr + 24), v[3], a1);
      acc[r] = _mm256_fmadd_ps(_mm256_add_ps(a0, a1), s, acc[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) out[r] = HorizontalSum(acc[r]);
}

template <void (*Decode)(const uint8_t*, __m256*), int kCodeBytes, int kScaleBlock>
void ScaledRowsDispatch(const float* const* x, int rows, const uint8_t* w, const float* scales,
                        float factor, int64_t n, float* out) {
  switch (rows) {
    case 1: return ScaledRows<1, Decode, kCodeBytes, kScaleBlock>(x, w, scales, factor, n, out);
    case 2: return ScaledRows<2, Decode, kCodeBytes, kScaleBlock>(x, w, scales, factor, n, out);
    case 3: return ScaledRows<3, Decode, kCodeBytes, kScaleBlock>(x, w, scales, factor, n, out);
    default: return ScaledRows<4, Decode, kCodeBytes, kScaleBlock>(x, w, scales, factor, n, out);
  }
}

void DotE2m1ScaledRowsAvx2(const float* const* x, int rows, const uint8_t* w,
                           const float* scales, int64_t n, float* out) {
  ScaledRowsDispatch<DecodeE2m1x32, 16, 32>(x, rows, w, scales, 0.5f, n, out);
}

void DotE4m3ScaledRowsAvx2(const float* const* x, int rows, const uint8_t* w,
                           const float* scales, int64_t n, float* out) {
  ScaledRowsDispatch<DecodeE4m3x32, 32, 128>(x, rows, w, scales, 256.0f, n, out);
}

}  // namespace

const DotKernels* Avx2DotKernels() {
  static const DotKernels kernels{"avx2",
                                  DotBf16Avx2,
                                  DotF32Avx2,
                                  DotE4m3Avx2,
                                  DotE2m1x32Avx2,
                                  DotE2m1RowAvx2,
                                  DotE2m1ScaledRowsAvx2,
                                  DotE4m3ScaledRowsAvx2,
                                  nullptr,  // no packed kernels: AVX2 has no bf16 dot product
                                  nullptr,
                                  nullptr,
                                  nullptr,
                                  nullptr};  // no multi-head scores: dot_bf16 per pair
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                                __builtin_cpu_supports("f16c");
  return supported ? &kernels : nullptr;
}

}  // namespace dsv4::kernels
