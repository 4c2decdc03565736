// The tile-order FMA kernels (kernels/tile_order.h) on AVX-512; this file alone is
// compiled for the extensions its decoders use.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as pass-through operands, which
// its own -W(maybe-)uninitialized then reports inside the header (as in dot_avx512.cc).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <type_traits>

#include "core/dtype.h"
#include "core/env_switch.h"
#include "core/status.h"
#include "kernels/cpu/weight_decode_avx512.h"
#include "kernels/linear_amx.h"
#include "kernels/tile_order.h"

namespace dsv4::kernels {
namespace {

using namespace avx512;

// A vector of 16 bf16 pairs as fp32: the even values (low words), the odd values (high).
inline __m512 EvenF32(__m512i pairs) { return _mm512_castsi512_ps(_mm512_slli_epi32(pairs, 16)); }
inline __m512 OddF32(__m512i pairs) {
  return _mm512_castsi512_ps(_mm512_and_si512(pairs, _mm512_set1_epi32(int32_t(0xFFFF0000u))));
}

// FTZ and DAZ for the FMAs of one call (the tiles flush denormal inputs and results);
// the caller's MXCSR comes back on return.
class FlushDenormals {
 public:
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }
  ~FlushDenormals() { _mm_setcsr(saved_); }

 private:
  unsigned saved_;
};

// Each stream's weights are fetched this far ahead of their decode (split among the
// streams, as the other stream kernels: dot_avx512.cc).
constexpr int64_t kPrefetchBytes = 4096;

// The c chains of N = S x R accumulator pairs: c = c + (E + O) lane by lane, in step
// order, after each group. Chains go four to an xmm register (a quad); each group's sums
// are transposed once (unpacks) and stored so that step l of a quad is one xmm load, and
// the 16 adds run one per vector during the next group (Pending), so a chain's adds
// neither wait in the scheduler nor cost a shuffle each (done after the group, with their
// dependent scalar adds, they made the T = 1 kernels 1.1-1.9x slower).
template <int N>
class StepChains {
 public:
  static constexpr int kQuads = (N + 3) / 4;
  // After a group: its step sums, ready for Pending / Finish.
  // (Unrolled: as loops, GCC kept e and o on the stack at each group's end, a store and a
  // load per accumulator; linear_ab FP4 [2048, 4096] T=1, B/A 0.969, 0.935, 0.948 over
  // 40-60 pairs; FP8 T=1 0.985-0.998.)
  void EndGroup(const __m512* e, const __m512* o) {
#pragma GCC unroll 4
    for (int q = 0; q < kQuads; ++q) {
      __m512 s[4];
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const int c = 4 * q + j;
        s[j] = c < N ? _mm512_add_ps(e[c], o[c]) : _mm512_setzero_ps();
      }
      // Lane L of u_p holds steps 4L + p of the quad's four chains.
      const __m512 t0 = _mm512_unpacklo_ps(s[0], s[1]), t1 = _mm512_unpackhi_ps(s[0], s[1]);
      const __m512 t2 = _mm512_unpacklo_ps(s[2], s[3]), t3 = _mm512_unpackhi_ps(s[2], s[3]);
      _mm512_store_pd(pending_[q][0], _mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
      _mm512_store_pd(pending_[q][1], _mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
      _mm512_store_pd(pending_[q][2], _mm512_unpacklo_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
      _mm512_store_pd(pending_[q][3], _mm512_unpackhi_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
    }
  }
  // Step l of the previous group's sums into the chains (0..15 in turn; before the first
  // group's sums the pending sums are +0, which leaves c = +0 as it is).
  void Pending(unsigned l) {  // unsigned: % and / are a mask and a shift (signed, 7 scalar
                              // instructions taking the vector ports' slots)
    for (int q = 0; q < kQuads; ++q) {
      c_[q] = _mm_add_ps(c_[q], _mm_castpd_ps(_mm_load_pd(&pending_[q][l % 4][2 * (l / 4)])));
    }
  }
  void Finish(float* out) {
    for (int l = 0; l < 16; ++l) Pending(l);
    alignas(16) float c[kQuads * 4];
    for (int q = 0; q < kQuads; ++q) _mm_store_ps(c + 4 * q, c_[q]);
    for (int j = 0; j < N; ++j) out[j] = c[j];
  }

 private:
  alignas(64) double pending_[kQuads][4][8] = {};  // 16 floats each, as doubles for the pd stores
  __m128 c_[kQuads] = {};
};

// One vector's products: E[s R + r] += even(v) x, O += odd(v) x' for each activation row
// (x[r] + at: 16 even values, then 16 odd).
template <int R>
inline void AddVector(__m512 we, __m512 wo, const float* const* x, int64_t at, __m512* e, __m512* o) {
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    e[r] = _mm512_fmadd_ps(we, _mm512_loadu_ps(x[r] + at), e[r]);
    o[r] = _mm512_fmadd_ps(wo, _mm512_loadu_ps(x[r] + at + 16), o[r]);
  }
}

// FP8. The weights' block scale goes into the decode tables (E4m3ScaledTableSet: e4m3 x
// 2^(e - 127) as bf16) where the group's S rows share their row block and its four scales
// fold into bf16 (kE4m3ScaleMin..Max): the products are the same exact fp32 values as
// decoded x scale, without the 4 multiplies of every 64 codes' 17 vector instructions.
// Otherwise the scale is applied in fp32 (exact where it folds into bf16, as the tiles
// have it; under FTZ/DAZ where it does not, as those rows' arithmetic is defined).
template <int S, int R>
void E4m3Tile(const float* const* x, const uint8_t* w, int64_t w_stride, const uint8_t* const* scale_rows,
              int64_t n, float* out) {
  static const E4m3ScaledTableSet& scaled_tables = ScaledE4m3TableSet();
  const E4m3Tables t = SharedE4m3Tables();
  constexpr int64_t kAhead = kPrefetchBytes / S;
  constexpr int N = S * R;
  bool one_row_block = true;
  for (int s = 1; s < S; ++s) one_row_block = one_row_block && scale_rows[s] == scale_rows[0];
  StepChains<N> chains;
  for (int64_t g = 0; g < n; g += kTileOrderGroup) {
    __m512 e[N], o[N];
#pragma GCC unroll 16
    for (int j = 0; j < N; ++j) e[j] = o[j] = _mm512_setzero_ps();
    // Steps l0..l1 of the group (64 codes per pair of steps) decoded with `tb`; with `mul`,
    // each vector times its row and column block's scale (`scales`) in fp32.
    auto steps = [&](const E4m3Tables& tb, unsigned l0, unsigned l1, const float (*scales)[4], auto mul) {
      for (unsigned l = l0; l < l1; l += 2) {
        const int64_t k = g + 32 * l;
        chains.Pending(l);
        chains.Pending(l + 1);
#pragma GCC unroll 4
        for (int s = 0; s < S; ++s) {
          const uint8_t* ws = w + s * w_stride + k;
          _mm_prefetch(reinterpret_cast<const char*>(ws + kAhead), _MM_HINT_T0);
          __m512i a, c;  // V_i, V_(i+1)
          DecodeE4m3x64(tb, _mm512_loadu_si512(ws), &a, &c);
          if constexpr (decltype(mul)::value) {
            const __m512 sc = _mm512_set1_ps(scales[s][l / 4]);
            AddVector<R>(_mm512_mul_ps(EvenF32(a), sc), _mm512_mul_ps(OddF32(a), sc), x, k, e + s * R, o + s * R);
            AddVector<R>(_mm512_mul_ps(EvenF32(c), sc), _mm512_mul_ps(OddF32(c), sc), x, k + 32, e + s * R,
                         o + s * R);
          } else {
            AddVector<R>(EvenF32(a), OddF32(a), x, k, e + s * R, o + s * R);
            AddVector<R>(EvenF32(c), OddF32(c), x, k + 32, e + s * R, o + s * R);
          }
        }
      }
    };
    if (one_row_block && ScalesFold(scale_rows[0] + g / 128, 4, kE4m3ScaleMin, kE4m3ScaleMax)) {
      for (unsigned b = 0; b < 4; ++b) {
        steps(scaled_tables.t[scale_rows[0][g / 128 + b]], 4 * b, 4 * b + 4, nullptr, std::false_type{});
      }
    } else {
      float scales[S][4];
      for (int s = 0; s < S; ++s) {
        for (int b = 0; b < 4; ++b) scales[s][b] = Ue8m0ToFloat(scale_rows[s][g / 128 + b]);
      }
      steps(t, 0, 16, scales, std::true_type{});
    }
    chains.EndGroup(e, o);
  }
  chains.Finish(out);
}

// The 16 e2m1 values times each ue8m0 scale 2^(e - 127), e = 0..255: one 64-byte load
// per vector instead of a multiply (one thread, FP4 [256, 4096] from L2, best of 200:
// T = 1 10.5-10.8 -> 11.2-11.8 GB/s, T = 2 7.5-8.1 -> 8.6; /tmp/kb/fp4k.cc). Computed
// as the multiply was, under FTZ/DAZ (a subnormal scale, e = 0, flushes to 0 there), so
// the products keep their bits. A vector's scale is a handful of distinct values per
// matrix in practice, so only a few of its 256 lines stay in L1.
struct E2m1ScaledTables {
  alignas(64) float t[256][16];
  E2m1ScaledTables() {
    FlushDenormals flush;
    const __m512 table = E2m1F32Table();
    alignas(16) uint8_t e[16];
    for (int e0 = 0; e0 < 256; e0 += 16) {
      for (int i = 0; i < 16; ++i) e[i] = uint8_t(e0 + i);
      alignas(64) float sc[16];
      _mm512_store_ps(sc, Ue8m0x16(_mm_load_si128(reinterpret_cast<const __m128i*>(e))));
      for (int i = 0; i < 16; ++i) _mm512_store_ps(t[e0 + i], _mm512_mul_ps(table, _mm512_set1_ps(sc[i])));
    }
  }
};
// One copy for every kernel shape below (a static in the template would be one per shape).
const E2m1ScaledTables& ScaledE2m1Tables() {
  static const E2m1ScaledTables tables;
  return tables;
}

// FP4: V_p is scale block kE2m1TileBlock[p] of the group (32 values in natural order, 16
// bytes: pair l = byte l, low nibble first); the packed activations (kE2m1Tile) hold the
// blocks in that order, so V_p's activations are packed values 32p.. of the group.
template <int S, int R>
void E2m1Tile(const float* const* x, const uint8_t* w, int64_t w_stride, const uint8_t* const* scale_rows,
              int64_t n, float* out) {
  const E2m1ScaledTables& scaled_tables = ScaledE2m1Tables();
  constexpr int64_t kAhead = kPrefetchBytes / S;
  constexpr int N = S * R;
  StepChains<N> chains;
  for (int64_t g = 0; g < n; g += kTileOrderGroup) {
#pragma GCC unroll 4
    for (int s = 0; s < S; ++s) {
      for (int line = 0; line < 4; ++line) {
        _mm_prefetch(reinterpret_cast<const char*>(w + s * w_stride + g / 2 + kAhead + 64 * line), _MM_HINT_T0);
      }
    }
    __m512 e[N], o[N];
#pragma GCC unroll 16
    for (int j = 0; j < N; ++j) e[j] = o[j] = _mm512_setzero_ps();
    const uint8_t* wg[S];
    const uint8_t* sg[S];
    // (Unrolled: as a loop GCC computed these pointers two to an xmm register and moved
    // them out with vmovq / vpextrq, 12 such instructions a group at T = 1 instead of 2.
    // linear_ab, FP4 [2048, 4096], 40 pairs a run: T=1 B/A 0.945-1.011 over 8 runs
    // (median 0.983), T=2 0.915-0.996 over 7 (median 0.961).)
#pragma GCC unroll 4
    for (int s = 0; s < S; ++s) {
      wg[s] = w + s * w_stride + g / 2;
      sg[s] = scale_rows[s] + g / 32;
    }
    // Unrolled: each vector's block, scale byte and pending step are constant offsets (in a
    // loop, their index arithmetic and pointers spilled to xmm registers took ~20 scalar
    // instructions per 4 vectors beside the vector ports' 24).
#pragma GCC unroll 16
    for (int p = 0; p < 16; ++p) {
      chains.Pending(unsigned(p));
      const int block = kE2m1TileBlock[p];
#pragma GCC unroll 4
      for (int s = 0; s < S; ++s) {
        const uint8_t* ws = wg[s] + 16 * block;
        const __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ws)));
        // The block's 16 values times its scale (exact where the scale folds into bf16).
        const __m512 scaled = _mm512_load_ps(scaled_tables.t[sg[s][block]]);
        AddVector<R>(_mm512_permutexvar_ps(b, scaled), _mm512_permutexvar_ps(_mm512_srli_epi32(b, 4), scaled), x,
                     g + 32 * p, e + s * R, o + s * R);
      }
    }
    chains.EndGroup(e, o);
    // The next group's Pending then reads the step sums back with loads: without this
    // barrier GCC forwards EndGroup's stores as vextracti32x4, on port 5 beside the
    // lookups (24 a group at T = 2). linear_ab, FP4 [2048, 4096], 7 runs of 40 pairs:
    // T=1 B/A 0.959-0.998 (median 0.981), T=2 0.956-1.014 (median 0.974). FP8's kernel:
    // 1.002-1.009, so not there.
    asm volatile("" ::: "memory");
  }
  chains.Finish(out);
}

using TileFn = void (*)(const float* const*, const uint8_t*, int64_t, const uint8_t* const*, int64_t, float*);
template <template <int, int> class K>
TileFn Pick(int wrows, int rows) {
  DSV4_CHECK(wrows >= 1 && wrows <= 4 && rows >= 1 && rows <= 4);
  static constexpr TileFn table[4][4] = {
      {K<1, 1>::fn, K<1, 2>::fn, K<1, 3>::fn, K<1, 4>::fn},
      {K<2, 1>::fn, K<2, 2>::fn, K<2, 3>::fn, K<2, 4>::fn},
      {K<3, 1>::fn, K<3, 2>::fn, K<3, 3>::fn, K<3, 4>::fn},
      {K<4, 1>::fn, K<4, 2>::fn, K<4, 3>::fn, K<4, 4>::fn},
  };
  return table[wrows - 1][rows - 1];
}
template <int S, int R>
struct E4m3TileOp {
  static constexpr TileFn fn = E4m3Tile<S, R>;
};
template <int S, int R>
struct E2m1TileOp {
  static constexpr TileFn fn = E2m1Tile<S, R>;
};

}  // namespace

bool TileOrderActive() {
  static const bool active = EnvSwitch("DSV4_TILE_ORDER", true) && AmxActive();
  return active;
}

void SplitTileOrderActs(const uint16_t* x, int64_t n, float* out) {
  for (int64_t i = 0; i < n; i += 32) {
    const __m512i v = _mm512_loadu_si512(x + i);
    _mm512_storeu_ps(out + i, EvenF32(v));
    _mm512_storeu_ps(out + i + 16, OddF32(v));
  }
}

void E4m3TileOrderRows(const float* const* x, int rows, const uint8_t* w, int64_t w_stride,
                       const uint8_t* const* scale_rows, int wrows, int64_t n, float* out) {
  DSV4_CHECK(n % kTileOrderGroup == 0);
  FlushDenormals flush;
  Pick<E4m3TileOp>(wrows, rows)(x, w, w_stride, scale_rows, n, out);
}

void E2m1TileOrderRows(const float* const* x, int rows, const uint8_t* w, int64_t w_stride,
                       const uint8_t* const* scale_rows, int wrows, int64_t n, float* out) {
  DSV4_CHECK(n % kTileOrderGroup == 0);
  FlushDenormals flush;
  Pick<E2m1TileOp>(wrows, rows)(x, w, w_stride, scale_rows, n, out);
}

}  // namespace dsv4::kernels
