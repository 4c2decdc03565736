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

// 64 e4m3 codes -> bf16 words in the packed e4m3 order.
inline void DecodeE4m3x64(const E4m3Tables& t, __m512i c, __m512i* a, __m512i* b) {
  // hi | (c & 0x80): ternary-logic truth table for (A = hi, B = c, C = 0x80): A | (B & C).
  const __m512i hi = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(t.hi0, c, t.hi1), c,
                                               _mm512_set1_epi8(int8_t(0x80)), 0xF8);
  const __m512i lo = _mm512_permutex2var_epi8(t.lo0, c, t.lo1);
  *a = _mm512_unpacklo_epi8(lo, hi);
  *b = _mm512_unpackhi_epi8(lo, hi);
}

}  // namespace dsv4::kernels::avx512
