// AVX-512 VNNI FP4 indexer score (this file alone is compiled with AVX-512 F/BW/VNNI/VBMI).
// Bit-identical to IndexerScoreFp4Ref. Keys go in lanes: a tile of 32 keys is decoded once
// into [dim/4][32] dwords of four biased key values (2·e2m1 + 12, so 0..24, unsigned) and
// every head then runs vpdpbusd against its query broadcast four values at a time, so
// each lane accumulates one key's exact block sum with no horizontal reduction. The bias
// is removed by starting each block's accumulator at -12·Σq over the block. Block sums
// are scaled by their power of two and added in double in block order (exact products,
// one rounding per add, as the reference), then rounded to fp32 once.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as pass-through operands, which
// its own -W(maybe-)uninitialized then reports inside the header (a known false alarm).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/bf16_round_avx512.h"
#include "kernels/indexer_score.h"

namespace dsv4::kernels {
namespace {

constexpr int kTileKeys = 32;  // keys per tile: two 16-lane vectors
constexpr int kBias = 12;      // added to the signed key values (-12..12) for vpdpbusd

// 2^e as a double for e in the normal range.
inline double Pow2(int e) {
  const uint64_t bits = uint64_t(e + 1023) << 52;
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

// Column g (dword g of each of the 16 rows r[0..15]) for g = 0..15: a 16x16 dword
// transpose (unpack within 128-bit lanes, then 128-bit lane shuffles).
inline void Transpose16(const __m512i* r, __m512i* col) {
  __m512i u[4][4];  // u[G][c]: lane L holds column 4L+c of rows 4G..4G+3
  for (int G = 0; G < 4; ++G) {
    const __m512i t0 = _mm512_unpacklo_epi32(r[4 * G], r[4 * G + 1]);
    const __m512i t1 = _mm512_unpackhi_epi32(r[4 * G], r[4 * G + 1]);
    const __m512i t2 = _mm512_unpacklo_epi32(r[4 * G + 2], r[4 * G + 3]);
    const __m512i t3 = _mm512_unpackhi_epi32(r[4 * G + 2], r[4 * G + 3]);
    u[G][0] = _mm512_unpacklo_epi64(t0, t2);
    u[G][1] = _mm512_unpackhi_epi64(t0, t2);
    u[G][2] = _mm512_unpacklo_epi64(t1, t3);
    u[G][3] = _mm512_unpackhi_epi64(t1, t3);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512i a = _mm512_shuffle_i32x4(u[0][c], u[1][c], 0x88), ah = _mm512_shuffle_i32x4(u[0][c], u[1][c], 0xDD);
    const __m512i b = _mm512_shuffle_i32x4(u[2][c], u[3][c], 0x88), bh = _mm512_shuffle_i32x4(u[2][c], u[3][c], 0xDD);
    col[c] = _mm512_shuffle_i32x4(a, b, 0x88);
    col[8 + c] = _mm512_shuffle_i32x4(a, b, 0xDD);
    col[4 + c] = _mm512_shuffle_i32x4(ah, bh, 0x88);
    col[12 + c] = _mm512_shuffle_i32x4(ah, bh, 0xDD);
  }
}

// The 32 keys at `c` (rows of `row` code bytes) as [dim/4][32] dwords of biased values.
// Dword g of a key holds 8 nibbles (dims 8g..8g+7); for 16 keys those dwords come from
// a transpose of their rows (64-byte rows: dim 128) or a gather (other dims).
// vpmultishiftqb then picks the nibbles of dims 8g..8g+3 (then 8g+4..8g+7) into bytes,
// and vpermb maps each nibble (bits above it ignored: the 16-entry table is repeated 4
// times) to its biased value.
void DecodeTile(const uint8_t* c, int64_t row, int64_t dim, int32_t* kt) {
  const __m512i lut = _mm512_set_epi8(
      0, 4, 6, 8, 9, 10, 11, 12, 24, 20, 18, 16, 15, 14, 13, 12,
      0, 4, 6, 8, 9, 10, 11, 12, 24, 20, 18, 16, 15, 14, 13, 12,
      0, 4, 6, 8, 9, 10, 11, 12, 24, 20, 18, 16, 15, 14, 13, 12,
      0, 4, 6, 8, 9, 10, 11, 12, 24, 20, 18, 16, 15, 14, 13, 12);
  // Per qword (two keys' dwords): bit offsets of the nibbles of the low / high 4 dims.
  const __m512i sel_lo = _mm512_set1_epi64(0x2c2824200c080400LL);
  const __m512i sel_hi = _mm512_set1_epi64(0x3c3834301c181410LL);
  auto emit = [&](int64_t g, int half, __m512i x) {
    const __m512i lo = _mm512_permutexvar_epi8(_mm512_multishift_epi64_epi8(sel_lo, x), lut);
    const __m512i hi = _mm512_permutexvar_epi8(_mm512_multishift_epi64_epi8(sel_hi, x), lut);
    _mm512_storeu_si512(kt + (2 * g) * kTileKeys + 16 * half, lo);
    _mm512_storeu_si512(kt + (2 * g + 1) * kTileKeys + 16 * half, hi);
  };
  if (row == 64) {
    for (int half = 0; half < 2; ++half) {
      __m512i r[16], col[16];
      for (int k = 0; k < 16; ++k) r[k] = _mm512_loadu_si512(c + (16 * half + k) * row);
      Transpose16(r, col);
      for (int g = 0; g < 16; ++g) emit(g, half, col[g]);
    }
    return;
  }
  const __m512i lane_rows = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(int(row)));
  for (int64_t g = 0; g < dim / 8; ++g) {
    for (int half = 0; half < 2; ++half) emit(g, half, _mm512_i32gather_epi32(lane_rows, c + half * 16 * row + 4 * g, 1));
  }
}

// One head's blocks b .. b+NB-1 of a tile: the exact block sums of the 32 keys (2·NB
// independent vpdpbusd chains), then each block's sum times 2^(eq+ek) added to acc (keys
// 0-7, 8-15, 16-23, 24-31) in block order. s·2^e is exact, so the fused multiply-add
// rounds once, like the reference's add.
template <int NB>
__attribute__((always_inline)) inline void ScoreBlocks(const int32_t* kt, const double* kf, const int32_t* qh,
                                                       const int32_t* bh, const double* fh, int64_t b,
                                                       __m512d* acc) {
  __m512i s0[NB], s1[NB];
#pragma GCC unroll 4
  for (int i = 0; i < NB; ++i) s0[i] = s1[i] = _mm512_set1_epi32(bh[b + i]);
#pragma GCC unroll 8
  for (int g = 0; g < 8; ++g) {
#pragma GCC unroll 4
    for (int i = 0; i < NB; ++i) {
      const int64_t grp = (b + i) * 8 + g;
      const __m512i qb = _mm512_set1_epi32(qh[grp]);
      s0[i] = _mm512_dpbusd_epi32(s0[i], _mm512_loadu_si512(kt + grp * kTileKeys), qb);
      s1[i] = _mm512_dpbusd_epi32(s1[i], _mm512_loadu_si512(kt + grp * kTileKeys + 16), qb);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < NB; ++i) {
    const __m512d f = _mm512_set1_pd(fh[b + i]);
    const double* kb = kf + (b + i) * kTileKeys;
    acc[0] = _mm512_fmadd_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(s0[i])),
                             _mm512_mul_pd(_mm512_loadu_pd(kb), f), acc[0]);
    acc[1] = _mm512_fmadd_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(s0[i], 1)),
                             _mm512_mul_pd(_mm512_loadu_pd(kb + 8), f), acc[1]);
    acc[2] = _mm512_fmadd_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(s1[i])),
                             _mm512_mul_pd(_mm512_loadu_pd(kb + 16), f), acc[2]);
    acc[3] = _mm512_fmadd_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(s1[i], 1)),
                             _mm512_mul_pd(_mm512_loadu_pd(kb + 24), f), acc[3]);
  }
}

// All heads over one decoded tile: out[k] = bf16(Σ_h bf16(max(bf16(dot), 0)·w_h)), the
// head sum in double. kB > 0: the block count known at compile time; 0: `blocks`.
template <int kB>
void ScoreHeads(const Fp4IndexQuery& q, const int32_t* kt, const double* kf, const int32_t* qv,
                const int32_t* bias, const double* qf, int64_t blocks, float* out) {
  if constexpr (kB > 0) blocks = kB;
  const int64_t groups = blocks * 8;
  __m512d total[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd()};
  for (int64_t h = 0; h < q.heads; ++h) {
    __m512d acc[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd()};
    const int32_t* qh = qv + h * groups;
    const int32_t* bh = bias + h * blocks;
    const double* fh = qf + h * blocks;
    if constexpr (kB > 0) {
      ScoreBlocks<kB>(kt, kf, qh, bh, fh, 0, acc);
    } else {
      int64_t b = 0;
      for (; b + 4 <= blocks; b += 4) ScoreBlocks<4>(kt, kf, qh, bh, fh, b, acc);
      for (; b < blocks; ++b) ScoreBlocks<1>(kt, kf, qh, bh, fh, b, acc);
    }
    const __m512 w = _mm512_set1_ps(q.weights[size_t(h)]);
#pragma GCC unroll 2
    for (int v = 0; v < 2; ++v) {
      const __m512 dot = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(acc[2 * v])),
                                            _mm512_cvtpd_ps(acc[2 * v + 1]), 1);
      const __m512 d = _mm512_max_ps(RoundBf16x16(dot), _mm512_setzero_ps());
      const __m512 hw = RoundBf16x16(_mm512_mul_ps(d, w));
      total[2 * v] = _mm512_add_pd(total[2 * v], _mm512_cvtps_pd(_mm512_castps512_ps256(hw)));
      total[2 * v + 1] = _mm512_add_pd(total[2 * v + 1], _mm512_cvtps_pd(_mm512_extractf32x8_ps(hw, 1)));
    }
  }
#pragma GCC unroll 2
  for (int v = 0; v < 2; ++v) {
    const __m512 t = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(total[2 * v])),
                                        _mm512_cvtpd_ps(total[2 * v + 1]), 1);
    _mm512_store_ps(out + 16 * v, RoundBf16x16(t));
  }
}

void IndexerScoreFp4Avx512Impl(const Fp4IndexQuery& q, const uint8_t* codes, const uint8_t* scales,
                               int64_t n, float* scores) {
  const int64_t dim = q.dim, H = q.heads, blocks = dim / 32, groups = dim / 4, row = dim / 2;
  // Per head and block: the bias correction and the query's scale 2^(e-2) (the -2 undoes
  // the doubling of both operands; keys add their 2^(s-127) below).
  // (Buffers kept per thread, every element written before it is read: a decode step's
  // indexer calls this per row and 2048-key tile, without heap allocations.)
  thread_local std::vector<int32_t> bias, qv, kt;
  thread_local std::vector<double> qf, kf;
  bias.resize(size_t(H * blocks));
  qv.resize(size_t(H * groups));
  qf.resize(size_t(H * blocks));
  std::memcpy(qv.data(), q.values.data(), size_t(H * dim));
  for (int64_t hb = 0; hb < H * blocks; ++hb) {
    int32_t sum = 0;
    for (int64_t i = 0; i < 32; ++i) sum += q.values[size_t(hb * 32 + i)];
    bias[size_t(hb)] = -kBias * sum;
    qf[size_t(hb)] = Pow2(q.exps[size_t(hb)] - 2);
  }
  kt.resize(size_t(groups * kTileKeys));
  kf.resize(size_t(blocks * kTileKeys));  // [block][key] 2^(s-127)
  KeyGroups groups_of_keys(codes, scales, n, dim, kTileKeys);

  for (int64_t j0 = 0; j0 < n; j0 += kTileKeys) {
    const uint8_t* c = nullptr;
    const uint8_t* s = nullptr;
    const int64_t valid = groups_of_keys.At(j0, &c, &s);
    DecodeTile(c, row, dim, kt.data());
    for (int64_t k = 0; k < kTileKeys; ++k) {
      for (int64_t b = 0; b < blocks; ++b) kf[size_t(b * kTileKeys + k)] = Pow2(int(s[k * blocks + b]) - 127);
    }
    alignas(64) float out[kTileKeys];
    if (blocks == 4) {  // dim 128 (V4's indexer): everything unrolled, accumulators in registers
      ScoreHeads<4>(q, kt.data(), kf.data(), qv.data(), bias.data(), qf.data(), blocks, out);
    } else {
      ScoreHeads<0>(q, kt.data(), kf.data(), qv.data(), bias.data(), qf.data(), blocks, out);
    }
    std::memcpy(scores + j0, out, size_t(valid) * sizeof(float));
  }
}

}  // namespace

IndexerScoreFn IndexerScoreFp4Avx512() {
  static const bool supported = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi");
  return supported ? IndexerScoreFp4Avx512Impl : nullptr;
}

}  // namespace dsv4::kernels
