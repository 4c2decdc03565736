// AVX-512 (BW, VBMI) decoders of the checkpoint's weight codes into bf16 words, shared by
// the packed dot kernels (dot_avx512.cc) and the AMX products (linear_amx.cc); include
// only from translation units compiled for those extensions. The orders they produce are
// the packed-activation layouts described in dot_avx512.cc.
#pragma once

#include <immintrin.h>

#include <bit>
#include <cstdint>

#include "core/dtype.h"

namespace dsv4::kernels::avx512 {

inline uint16_t Bf16Bits(float v) { return uint16_t(std::bit_cast<uint32_t>(v) >> 16); }

// e2m1 values -> bf16 words, from 64 weight bytes (128 values) read as 32 words `v`:
// half p (0 or 1) gives vectors 2p and 2p + 1 of the packed order (nibbles 2p and 2p + 1
// of each word). The table holds the 16 values twice: vpermw reads 5 index bits, so a
// nibble needs no mask (bit 4, the next nibble's lowest bit, picks the copy).
// Reading 64 bytes as words (instead of 32 bytes zero-extended to words, with the nibbles
// split into even and odd k) saves the widening shuffles and half the scale picks: one
// thread, FP4 [4 x 64, 4096] from L2, 4 streams, 1 / 2 / 3 / 4 activation rows: 33-35 ->
// 44-46, 24-26 -> 31-32, 21 -> 21-22, 16 -> 15 GB/s (/tmp/kb/fp4u.cc, bench/RESULTS.md).
inline __m512i E2m1Table() {
  return _mm512_setr_epi32(0x3F000000, 0x3FC03F80, 0x40404000, 0x40C04080, int32_t(0xBF008000),
                           int32_t(0xBFC0BF80), int32_t(0xC040C000), int32_t(0xC0C0C080), 0x3F000000,
                           0x3FC03F80, 0x40404000, 0x40C04080, int32_t(0xBF008000), int32_t(0xBFC0BF80),
                           int32_t(0xC040C000), int32_t(0xC0C0C080));
}
template <int P>
inline void DecodeE2m1Half(__m512i table, __m512i v, __m512i* a, __m512i* b) {
  *a = _mm512_permutexvar_epi16(P == 0 ? v : _mm512_srli_epi16(v, 8), table);
  *b = _mm512_permutexvar_epi16(_mm512_srli_epi16(v, 8 * P + 4), table);
}

// Weight rows read with 64-byte-aligned loads whatever their address. A checkpoint's
// tensors start where the file puts them (the benchmark checkpoint's at 24 or 56 bytes
// past a line), and FP8 rows read with line-crossing loads streamed 34-40 GB/s against
// 53-55 GB/s for the same rows copied to a line start (/tmp/kb/lf10.cc: five attention
// matrices, T = 1, 2 threads). Three aligned lines and two vpermt2b give 128 bytes.
struct LineAlignedLoads {
  int64_t offset;  // the rows' start % 64
  __m512i pick;    // byte j <- byte offset + j of (line, next line)
  explicit LineAlignedLoads(const void* p) : offset(int64_t(reinterpret_cast<uintptr_t>(p) & 63)) {
    alignas(64) uint8_t idx[64];
    for (int j = 0; j < 64; ++j) idx[j] = uint8_t(offset + j);
    pick = _mm512_load_si512(idx);
  }
  // Rows w_stride apart from w all share w's offset (w_stride 0: one row); an offset of 0
  // needs nothing.
  static bool Pays(const void* w, int64_t w_stride) {
    return (reinterpret_cast<uintptr_t>(w) & 63) != 0 && w_stride % 64 == 0;
  }
  // The 64 bytes at p (p % 64 == offset != 0, so both lines hold bytes of them).
  __m512i Load64(const uint8_t* p) const {
    const uint8_t* line = p - offset;
    return _mm512_permutex2var_epi8(_mm512_load_si512(line), pick, _mm512_load_si512(line + 64));
  }
  // The 128 bytes at p (p % 64 == offset != 0, so all three lines hold bytes of them).
  void Load128(const uint8_t* p, __m512i* c0, __m512i* c1) const {
    const uint8_t* line = p - offset;
    const __m512i l0 = _mm512_load_si512(line);
    const __m512i l1 = _mm512_load_si512(line + 64);
    const __m512i l2 = _mm512_load_si512(line + 128);
    *c0 = _mm512_permutex2var_epi8(l0, pick, l1);
    *c1 = _mm512_permutex2var_epi8(l1, pick, l2);
  }
};

struct E4m3Tables {
  __m512i hi0, hi1, lo0, lo1;  // bf16 high / low bytes of e4m3(code) for codes 0..127
  E4m3Tables() {
    alignas(64) uint8_t hi[128], lo[128];
    for (int c = 0; c < 128; ++c) {
      const uint16_t b = Bf16Bits(E4m3ToFloat(uint8_t(c)));
      hi[c] = uint8_t(b >> 8);
      lo[c] = uint8_t(b & 0xFF);
    }
    hi0 = _mm512_load_si512(hi);
    hi1 = _mm512_load_si512(hi + 64);
    lo0 = _mm512_load_si512(lo);
    lo1 = _mm512_load_si512(lo + 64);
  }
};

// One copy per program, built on first use (an inline function's static; a static in each
// kernel template was one copy per shape).
inline const E4m3Tables& SharedE4m3Tables() {
  static const E4m3Tables tables;
  return tables;
}

// 64 e4m3 codes -> bf16 words in the packed e4m3 order.
inline void DecodeE4m3x64(const E4m3Tables& t, __m512i c, __m512i* a, __m512i* b) {
  // hi | (c & 0x80): ternary-logic truth table for (A = hi, B = c, C = 0x80): A | (B & C).
  const __m512i hi = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(t.hi0, c, t.hi1), c,
                                               _mm512_set1_epi8(int8_t(0x80)), 0xF8);
  const __m512i lo = _mm512_permutex2var_epi8(t.lo0, c, t.lo1);
  *a = _mm512_unpacklo_epi8(lo, hi);
  *b = _mm512_unpackhi_epi8(lo, hi);
}

// 16 ue8m0 bytes -> fp32 scales (2^(e-127); e = 0 is the subnormal 2^-127, as Ue8m0ToFloat).
inline __m512 Ue8m0x16(__m128i bytes) {
  const __m512i e = _mm512_cvtepu8_epi32(bytes);
  const __mmask16 zero = _mm512_testn_epi32_mask(e, e);
  return _mm512_castsi512_ps(_mm512_mask_mov_epi32(_mm512_slli_epi32(e, 23), zero, _mm512_set1_epi32(0x00400000)));
}

// The 16 e2m1 values as fp32 (vpermps reads an index's low 4 bits: the nibble).
inline __m512 E2m1F32Table() {
  return _mm512_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f, -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f,
                        -4.0f, -6.0f);
}

// ---- scales folded into bf16 exponents (the AMX products and the tile-order kernels) ----

// bf16 words of e4m3 codes 0..127 (4 vectors of 32 words) and the lanes a scale may
// move: not code 0 (zero) nor 127 (NaN).
struct E4m3Words {
  __m512i w[4];
  __m512i lo_idx, hi_idx;  // bytes 2j / 2j + 1 of two word vectors: their low / high bytes
  E4m3Words() {
    alignas(64) uint16_t words[128];
    for (int c = 0; c < 128; ++c) words[c] = Bf16Bits(E4m3ToFloat(uint8_t(c)));
    for (int i = 0; i < 4; ++i) w[i] = _mm512_load_si512(words + 32 * i);
    alignas(64) uint8_t lo[64], hi[64];
    for (int j = 0; j < 64; ++j) {
      lo[j] = uint8_t(2 * j);
      hi[j] = uint8_t(2 * j + 1);
    }
    lo_idx = _mm512_load_si512(lo);
    hi_idx = _mm512_load_si512(hi);
  }
};
// One copy per program (an inline function's static).
inline const E4m3Words& SharedE4m3Words() {
  static const E4m3Words words;
  return words;
}
constexpr __mmask32 kE4m3Scalable[4] = {0xFFFFFFFEu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0x7FFFFFFFu};

// A ue8m0 scale e folds exactly into every finite nonzero code's bf16 exponent field
// (the sum stays in 1..254) when e is in these ranges: e4m3 fields 118 (2^-9) .. 135
// (448); e2m1 fields 126 (0.5) .. 129 (6).
constexpr int kE4m3ScaleMin = 10, kE4m3ScaleMax = 246;
constexpr int kE2m1ScaleMin = 2, kE2m1ScaleMax = 252;

// The decode tables of e4m3 codes times 2^(e - 127).
inline E4m3Tables ScaledE4m3Tables(const E4m3Tables& base, const E4m3Words& words, int e) {
  const __m512i add = _mm512_set1_epi16(int16_t((e - 127) * 128));
  __m512i w[4];
  for (int i = 0; i < 4; ++i) w[i] = _mm512_mask_add_epi16(words.w[i], kE4m3Scalable[i], words.w[i], add);
  const __m512i lo = words.lo_idx, hi = words.hi_idx;
  E4m3Tables t = base;
  t.lo0 = _mm512_permutex2var_epi8(w[0], lo, w[1]);
  t.lo1 = _mm512_permutex2var_epi8(w[2], lo, w[3]);
  t.hi0 = _mm512_permutex2var_epi8(w[0], hi, w[1]);
  t.hi1 = _mm512_permutex2var_epi8(w[2], hi, w[3]);
  return t;
}

// The decode tables times each scale that folds (ScaledE4m3Tables), made once: four
// loads where each 128-value block built them (4 adds, 4 vpermi2b); 64 KiB, of which a
// matrix's few distinct scales stay in cache. The tile-order FMA kernel reads them
// (linear_ab FP8 [4096, 4096] T=1, B/A 0.963, 0.973, 0.966 from cache, 0.980, 0.963
// from memory); the natural-order AMX decoder (linear_amx.cc) still builds its own per
// block (not measured with the set).
struct E4m3ScaledTableSet {
  E4m3Tables t[256];
  E4m3ScaledTableSet() {
    for (int e = kE4m3ScaleMin; e <= kE4m3ScaleMax; ++e) t[e] = ScaledE4m3Tables(SharedE4m3Tables(), SharedE4m3Words(), e);
  }
};
inline const E4m3ScaledTableSet& ScaledE4m3TableSet() {  // one per program
  static const E4m3ScaledTableSet set;
  return set;
}

// Whether every scale byte s[0..n) is within [lo, hi].
inline bool ScalesFold(const uint8_t* s, int64_t n, int lo, int hi) {
  const __m512i vlo = _mm512_set1_epi8(char(lo)), vhi = _mm512_set1_epi8(char(hi));
  for (int64_t i = 0; i < n; i += 64) {
    const __mmask64 m = n - i >= 64 ? ~__mmask64(0) : (__mmask64(1) << (n - i)) - 1;
    const __m512i v = _mm512_maskz_loadu_epi8(m, s + i);
    if ((_mm512_mask_cmplt_epu8_mask(m, v, vlo) | _mm512_mask_cmpgt_epu8_mask(m, v, vhi)) != 0) return false;
  }
  return true;
}

}  // namespace dsv4::kernels::avx512
