// AVX-512 (F, BW, VL, DQ, BF16, VBMI) kernels: the AVX2 set plus packed-activation
// kernels built on vdpbf16ps (this file alone is compiled for those extensions).
//
// Why bf16 dot products are exact here: fast-mode Linear feeds these kernels only
// activations that are bf16-exact (FP8-quantised q·s: a 4-bit significand times a power
// of two; or bf16-rounded model values — Linear checks), and every weight value of
// e2m1 (2-bit significand), e4m3 (4-bit) and bf16 is bf16-exact; the product of two bf16
// values is exact in fp32, so vdpbf16ps only differs from an fp32 FMA loop in summation
// order (and in flushing fp32/bf16 denormals, far below any activation or weight here).
//
// Packed layouts (pack_bf16_acts), chosen so the weight decoders need no lane shuffles:
//   bf16: natural order.
//   e2m1: per 128 values (64 weight bytes), four vectors of 32: vector c holds k = 4i + c
//         for i = 0..31 (the decoder reads the 64 bytes as 32 words and looks up nibble c
//         of each), so fp32 lanes 4b..4b+3 of a dot product over vectors 0-1 or 2-3 hold
//         products of block b (k = 32b..32b+31) only.
//   e4m3: per 64 codes, the order of unpacklo_epi8 / unpackhi_epi8 per 128-bit lane:
//         for lane L the codes 16L+0..7 (in the first half), 16L+8..15 (second half).
// Weight decoding: e2m1 nibble -> bf16 with vpermw on a 16-entry table (of word >> 4c);
// e4m3 code -> bf16 high and low bytes with two vpermi2b on 128-entry tables of |code| (NaN codes give
// bf16 NaN, as in the reference table), the sign OR-ed in.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as pass-through operands, which
// its own -W(maybe-)uninitialized then reports inside the header (a known false alarm).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/cpu/horizontal_sum_avx2.h"
#include "kernels/cpu/weight_decode_avx512.h"
#include "kernels/tile_order.h"
#include "kernels/dot.h"

namespace dsv4::kernels {

namespace {

using namespace avx512;  // the weight decoders (weight_decode_avx512.h)

void ScalesToFloat(const uint8_t* s, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, Ue8m0x16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
  for (; i < n; ++i) out[i] = Ue8m0ToFloat(s[i]);
}

// Word indices for vpermt2w over two vectors of 16 fp32 values (words 0..31 of a, 32..63
// of b): the high (bf16) word of each value. kPairs: a's 16 values, then b's; kE4m3Halves:
// a 0-7, b 0-7, a 8-15, b 8-15 (the two halves of the packed e4m3 order per 32 values).
struct PackIndices {
  __m512i pairs, e4m3_halves;
  PackIndices() {
    alignas(64) uint16_t p[32], h[32];
    for (int j = 0; j < 32; ++j) {
      p[j] = uint16_t(2 * j + 1);
      const int src = (j / 8) % 2, dword = 8 * (j / 16) + j % 8;
      h[j] = uint16_t(32 * src + 2 * dword + 1);
    }
    pairs = _mm512_load_si512(p);
    e4m3_halves = _mm512_load_si512(h);
  }
};

// Packs rows and checks them in one pass: the OR of every input's low 16 bits (zero iff
// all were bf16-exact).
class Bf16Packer {
 public:
  // The bf16 words (high words) of the 32 fp32 values at x.
  __m512i Words32(const float* x) { return Pair(_mm512_loadu_si512(x), _mm512_loadu_si512(x + 16), ix_.pairs); }
  // Words of two 16-value vectors picked by idx (PackIndices).
  __m512i Pair(__m512i a, __m512i b, __m512i idx) {
    low_ = _mm512_ternarylogic_epi32(low_, a, b, 0xFE);  // low | a | b
    return _mm512_permutex2var_epi16(a, idx, b);
  }
  void Scalar(float v) { low_scalar_ |= std::bit_cast<uint32_t>(v); }
  bool Exact() const {
    return _mm512_test_epi32_mask(low_, _mm512_set1_epi32(0xFFFF)) == 0 && (low_scalar_ & 0xFFFFu) == 0;
  }
  const PackIndices& ix() const { return ix_; }

 private:
  // A function's static, built on first use: a static member would be built at program
  // start, running AVX-512 instructions on CPUs without them.
  static const PackIndices& Indices() {
    static const PackIndices ix;
    return ix;
  }
  const PackIndices& ix_ = Indices();
  __m512i low_ = _mm512_setzero_si512();
  uint32_t low_scalar_ = 0;
};

// The layouts as in the scalar loop of kE2m1 below, 32 words per vpermt2w (scalar, the
// packing of a 512-token prefill chunk's activations was ~1% of the chunk, as much as
// the FP8 activation quantisation; the separate exactness pass over the rows as much).
bool PackActsAvx512(const float* x, int64_t n, PackedFormat format, uint16_t* out) {
  Bf16Packer pk;
  switch (format) {
    case PackedFormat::kBf16:  // n % 32 == 0 (PackedFormatFor)
      for (int64_t k = 0; k < n; k += 32) _mm512_storeu_si512(out + k, pk.Words32(x + k));
      break;
    case PackedFormat::kE2m1Tile:  // out[g + 32 p + i] = x[g + 32 kE2m1TileBlock[p] + i]
      for (int64_t g = 0; g < n; g += kTileOrderGroup) {
        for (int p = 0; p < 16; ++p) _mm512_storeu_si512(out + g + 32 * p, pk.Words32(x + g + 32 * kE2m1TileBlock[p]));
      }
      break;
    case PackedFormat::kE2m1:
      for (int64_t c = 0; c < n; c += 128) {
        for (int v = 0; v < 4; ++v) {
          for (int i = 0; i < 32; ++i) {
            pk.Scalar(x[c + 4 * i + v]);
            out[c + 32 * v + i] = Bf16Bits(x[c + 4 * i + v]);
          }
        }
      }
      break;
    case PackedFormat::kE4m3:
      // out[c + w] = x[c + 16 (w / 8) + w % 8], out[c + 32 + w] = x[c + 16 (w / 8) + 8 + w % 8]
      for (int64_t c = 0; c < n; c += 64) {
        const __m512i p = pk.Pair(_mm512_loadu_si512(x + c), _mm512_loadu_si512(x + c + 16), pk.ix().e4m3_halves);
        const __m512i q = pk.Pair(_mm512_loadu_si512(x + c + 32), _mm512_loadu_si512(x + c + 48), pk.ix().e4m3_halves);
        _mm512_storeu_si512(out + c, _mm512_shuffle_i64x2(p, q, 0x44));
        _mm512_storeu_si512(out + c + 32, _mm512_shuffle_i64x2(p, q, 0xEE));
      }
      break;
  }
  return pk.Exact();
}

inline __m512 Dp(__m512 acc, __m512i a, __m512i b) {
  return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh>(a), reinterpret_cast<__m512bh>(b));
}
inline __m512i Load(const uint16_t* p) { return _mm512_loadu_si512(p); }

// W weight rows x R activation rows: W * R accumulators (at most 24 of the 32 registers),
// each activation vector loaded once for the W weight rows.
template <int W, int R>
void Bf16Tile(const uint16_t* const* x, const uint16_t* w, int64_t w_stride, int64_t n, float* out) {
  __m512 acc[W][R];
#pragma GCC unroll 6
  for (int i = 0; i < W; ++i) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[i][r] = _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < n; k += 32) {
    __m512i wv[W];
#pragma GCC unroll 6
    for (int i = 0; i < W; ++i) wv[i] = Load(w + i * w_stride + k);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512i xv = Load(x[r] + k);
#pragma GCC unroll 6
      for (int i = 0; i < W; ++i) acc[i][r] = Dp(acc[i][r], xv, wv[i]);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < W; ++i) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) out[i * R + r] = _mm512_reduce_add_ps(acc[i][r]);
  }
}

// The scales of a 128-value step as fp32 lanes [s0 x4, s1 x4, s2 x4, s3 x4] (lanes
// 4b..4b+3 hold block b's products), picked from a vector of 16 scales: `pick` holds the
// step's first scale index in each group of four lanes.
inline __m512i E2m1ScalePick() { return _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3); }
// The same lanes from the step's four fp32 scales s[0..3].
inline __m512 E2m1StepScales(const float* s) {
  return _mm512_permutexvar_ps(E2m1ScalePick(), _mm512_castps128_ps512(_mm_loadu_ps(s)));
}

// One half step (64 values: decoded vectors a, b) of one activation row xr (at the half's
// first packed value): the two dot products from zero, then acc + part · s — the e2m1
// arithmetic of every kernel here.
inline __m512 E2m1HalfStep(const uint16_t* xr, __m512i a, __m512i b, __m512 s, __m512 acc) {
  __m512 part = Dp(_mm512_setzero_ps(), Load(xr), a);
  part = Dp(part, Load(xr + 32), b);
  return _mm512_fmadd_ps(part, s, acc);
}

// Per 128 values: two half steps per row with the step's scales.
template <int R>
void E2m1Rows(const uint16_t* const* x, const uint8_t* w, const uint8_t* scale_bytes, int64_t n,
              float* out) {
  float scales[512];
  ScalesToFloat(scale_bytes, n / 32, scales);
  const __m512i table = E2m1Table();
  __m512 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t k = 0; k < n; k += 128) {
    const __m512i v = _mm512_loadu_si512(w + k / 2);
    const __m512 s = E2m1StepScales(&scales[k / 32]);
    __m512i a, b;
    DecodeE2m1Half<0>(table, v, &a, &b);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r] = E2m1HalfStep(x[r] + k, a, b, s, acc[r]);
    DecodeE2m1Half<1>(table, v, &a, &b);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r] = E2m1HalfStep(x[r] + k + 64, a, b, s, acc[r]);
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

// One 128-code block (decoded: a0 b0 a1 b1) against packed activations xr: the four dot
// steps from zero, then acc + part · s — the per-block arithmetic of the e4m3 kernels.
inline __m512 E4m3Block(const uint16_t* xr, __m512i a0, __m512i b0, __m512i a1, __m512i b1, __m512 s,
                        __m512 acc) {
  __m512 part = Dp(_mm512_setzero_ps(), Load(xr), a0);
  part = Dp(part, Load(xr + 32), b0);
  part = Dp(part, Load(xr + 64), a1);
  part = Dp(part, Load(xr + 96), b1);
  return _mm512_fmadd_ps(part, s, acc);
}

template <int R>
void E4m3Rows(const uint16_t* const* x, const uint8_t* w, const uint8_t* scale_bytes, int64_t n,
              float* out) {
  const E4m3Tables t = SharedE4m3Tables();
  __m512 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t k = 0; k < n; k += 128) {
    __m512i a0, b0, a1, b1;
    DecodeE4m3x64(t, _mm512_loadu_si512(w + k), &a0, &b0);
    DecodeE4m3x64(t, _mm512_loadu_si512(w + k + 64), &a1, &b1);
    const __m512 s = _mm512_set1_ps(Ue8m0ToFloat(scale_bytes[k / 128]));
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r] = E4m3Block(x[r] + k, a0, b0, a1, b1, s, acc[r]);
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

// The stream kernels' S x R accumulators: zeroed, and reduced to out[s * R + r].
template <int S, int R>
inline void ZeroStreamAccumulators(__m512 (&acc)[S][R]) {
#pragma GCC unroll 4
  for (int s = 0; s < S; ++s) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) acc[s][r] = _mm512_setzero_ps();
  }
}
template <int S, int R>
inline void ReduceStreamAccumulators(const __m512 (&acc)[S][R], float* out) {
#pragma GCC unroll 4
  for (int s = 0; s < S; ++s) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) out[s * R + r] = _mm512_reduce_add_ps(acc[s][r]);
  }
}

// E4m3Rows<R>'s arithmetic for wrows weight rows and R activation rows
// (DotKernels::e4m3_weight_rows), the weight rows walked in lockstep: S weight streams
// w_stride apart (Linear passes rows far apart), each line fetched
// kE4m3StreamPrefetchBytes / S ahead. One stream with a 4 KiB prefetch streamed 15-17 GB/s
// per thread from memory here; two streams half a range apart with 2 KiB each 20-22
// (2 threads 30-33 -> 38-44); 4 streams with 1 KiB each 57-65 on 2 threads against 45-56
// for one.
constexpr int64_t kE4m3StreamPrefetchBytes = 4096;
template <int S, int R, bool kRealign>
void E4m3Streams(const uint16_t* const* x, const uint8_t* w, int64_t w_stride,
                 const uint8_t* const* scale_rows, int64_t n, float* out) {
  const E4m3Tables t = SharedE4m3Tables();
  const LineAlignedLoads lines(w);
  constexpr int64_t kAhead = kE4m3StreamPrefetchBytes / S;
  const int64_t n_scales = n / 128;
  // Each stream's block scales as fp32, 16 at a time (vector conversion, masked at the
  // row's end), each broadcast from here by its FMA: a scalar Ue8m0ToFloat per block and
  // stream was ~6 of the ~23 instructions per 128 weights.
  alignas(64) float scales[S][16];
  __m512 acc[S][R];
  ZeroStreamAccumulators(acc);
  for (int64_t k = 0; k < n; k += 128) {
    if (k % 2048 == 0) {
      const int64_t left = n_scales - k / 128;
      const __mmask16 m = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
#pragma GCC unroll 4
      for (int s = 0; s < S; ++s) _mm512_store_ps(scales[s], Ue8m0x16(_mm_maskz_loadu_epi8(m, scale_rows[s] + k / 128)));
    }
#pragma GCC unroll 4
    for (int s = 0; s < S; ++s) {
      const uint8_t* ws = w + s * w_stride + k;
      _mm_prefetch(reinterpret_cast<const char*>(ws + kAhead), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(ws + kAhead + 64), _MM_HINT_T0);
      __m512i c0, c1, a0, b0, a1, b1;
      if constexpr (kRealign) {
        lines.Load128(ws, &c0, &c1);
      } else {
        c0 = _mm512_loadu_si512(ws);
        c1 = _mm512_loadu_si512(ws + 64);
      }
      DecodeE4m3x64(t, c0, &a0, &b0);
      DecodeE4m3x64(t, c1, &a1, &b1);
      const __m512 sc = _mm512_set1_ps(scales[s][(k / 128) % 16]);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[s][r] = E4m3Block(x[r] + k, a0, b0, a1, b1, sc, acc[s][r]);
    }
  }
  ReduceStreamAccumulators(acc, out);
}

// Every 512 values of the e2m1 stream kernels: the next 16 scales of each stream as fp32
// (masked at the row's end: no read past it); the scale rows of later groups follow each
// stream's row, fetched ahead.
template <int S>
inline void LoadE2m1StreamScales(const uint8_t* const* scale_bytes, int64_t k, int64_t n_scales,
                                 float (&scales)[S][16]) {
  const int64_t left = n_scales - k / 32;
  const __mmask16 m = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
#pragma GCC unroll 4
  for (int s = 0; s < S; ++s) {
    if (k % 2048 == 0) _mm_prefetch(reinterpret_cast<const char*>(scale_bytes[s] + k / 32 + 256), _MM_HINT_T0);
    _mm512_store_ps(scales[s], Ue8m0x16(_mm_maskz_loadu_epi8(m, scale_bytes[s] + k / 32)));
  }
}

// Each of the S e2m1 streams' 64 bytes at value k (streams w_stride bytes apart), its
// line `ahead` bytes on fetched.
template <int S, bool kRealign>
inline void LoadE2m1StreamSteps(const uint8_t* w, int64_t w_stride, int64_t k, int64_t ahead,
                                const LineAlignedLoads& lines, __m512i (&v)[S]) {
#pragma GCC unroll 4
  for (int s = 0; s < S; ++s) {
    const uint8_t* ws = w + s * w_stride + k / 2;
    _mm_prefetch(reinterpret_cast<const char*>(ws + ahead), _MM_HINT_T0);
    v[s] = kRealign ? lines.Load64(ws) : _mm512_loadu_si512(ws);
  }
}

// The walk both e2m1 stream kernels share: S streams w_stride bytes apart, 128 values a
// step, each stream's scales converted 16 at a time and its 64 bytes loaded (and fetched
// kE2m1StreamPrefetchBytes / S ahead); step(k, v, scale, acc) adds the step's products to
// the S x R accumulators, scale(s) giving stream s's step scales as E2m1StepScales lanes.
constexpr int64_t kE2m1StreamPrefetchBytes = 4096;
template <int S, int R, bool kRealign, typename Step>
inline void WalkE2m1Streams(const uint8_t* w, int64_t w_stride, const uint8_t* const* scale_bytes, int64_t n,
                            float* out, Step&& step) {
  constexpr int64_t kAhead = kE2m1StreamPrefetchBytes / S;
  const LineAlignedLoads lines(w);
  const int64_t n_scales = n / 32;
  const __m512i pick = E2m1ScalePick();
  alignas(64) float scales[S][16];
  __m512 acc[S][R];
  __m512i idx = pick;
  ZeroStreamAccumulators(acc);
  for (int64_t k = 0; k < n; k += 128) {
    if (k % 512 == 0) {
      LoadE2m1StreamScales<S>(scale_bytes, k, n_scales, scales);
      idx = pick;
    }
    // Each stream's 64 bytes of the step, loaded (and shifted into place) once for both
    // halves (a permute per half made the loop's shuffles 28 per 256 bytes instead of 24).
    __m512i v[S];
    LoadE2m1StreamSteps<S, kRealign>(w, w_stride, k, kAhead, lines, v);
    step(k, v, [&](int s) { return _mm512_permutexvar_ps(idx, _mm512_load_ps(scales[s])); }, acc);
    idx = _mm512_add_epi32(idx, _mm512_set1_epi32(4));
  }
  ReduceStreamAccumulators(acc, out);
}

// E2m1Rows<R>'s arithmetic, walked like E4m3Streams: S weight streams w_stride bytes
// apart, each line fetched kE2m1StreamPrefetchBytes / S ahead; S x R independent
// accumulator chains instead of R. scale_bytes[s]: stream s's ue8m0 block scales,
// converted here 16 at a time (a separate conversion pass into an fp32 array took ~1/6
// of the FP4 time in a decode step (perf), and its stores cost L2 traffic a quarter the
// size of the weights) into a small array the scale picks read (as fast as keeping the S
// vectors in registers: 4 x 4 from L2 15.3-15.5 vs 15.0-15.3 GB/s, /tmp/kb/fp4u.cc, and 4
// fewer registers held). The two halves of a 128-value step are walked one after the other
// over all streams; with 4 activation rows the compiler still keeps both halves'
// activations live, so Linear runs passes of at most 3 rows (linear.cc).
template <int S, int R, bool kRealign>
void E2m1Streams(const uint16_t* const* x, const uint8_t* w, int64_t w_stride,
                 const uint8_t* const* scale_bytes, int64_t n, float* out) {
  const __m512i table = E2m1Table();
  WalkE2m1Streams<S, R, kRealign>(w, w_stride, scale_bytes, n, out, [&](int64_t k, const __m512i* v, auto scale,
                                                                        __m512 (&acc)[S][R]) {
    auto half = [&](auto p) {
      constexpr int P = decltype(p)::value;
#pragma GCC unroll 4
      for (int s = 0; s < S; ++s) {
        const __m512 sc = scale(s);
        __m512i a, b;
        DecodeE2m1Half<P>(table, v[s], &a, &b);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) acc[s][r] = E2m1HalfStep(x[r] + k + 64 * P, a, b, sc, acc[s][r]);
      }
    };
    half(std::integral_constant<int, 0>{});
    half(std::integral_constant<int, 1>{});
  });
}

// (wrows, rows) -> the template instance K<wrows, rows>::Run(args...); both in
// 1..kWeightRowsMax.
template <template <int, int> class K, int S, typename... A>
void ByStreamRows(int rows, A... args) {
  switch (rows) {
    case 1: return K<S, 1>::Run(args...);
    case 2: return K<S, 2>::Run(args...);
    case 3: return K<S, 3>::Run(args...);
    default: return K<S, 4>::Run(args...);
  }
}
template <template <int, int> class K, typename... A>
void ByStreams(int wrows, int rows, A... args) {
  switch (wrows) {
    case 1: return ByStreamRows<K, 1>(rows, args...);
    case 2: return ByStreamRows<K, 2>(rows, args...);
    case 3: return ByStreamRows<K, 3>(rows, args...);
    default: return ByStreamRows<K, 4>(rows, args...);
  }
}
template <int S, int R> struct E4m3StreamsOp {
  static void Run(const uint16_t* const* x, const uint8_t* w, int64_t ws, const uint8_t* const* sr, int64_t n, float* o) {
    if (LineAlignedLoads::Pays(w, ws)) {
      E4m3Streams<S, R, true>(x, w, ws, sr, n, o);
    } else {
      E4m3Streams<S, R, false>(x, w, ws, sr, n, o);
    }
  }
};
template <int S, int R> struct E2m1StreamsOp {
  static void Run(const uint16_t* const* x, const uint8_t* w, int64_t ws, const uint8_t* const* sr, int64_t n, float* o) {
    if (LineAlignedLoads::Pays(w, ws)) {
      E2m1Streams<S, R, true>(x, w, ws, sr, n, o);
    } else {
      E2m1Streams<S, R, false>(x, w, ws, sr, n, o);
    }
  }
};
void E4m3WeightRowsAvx512(const uint16_t* const* x, int rows, const uint8_t* w, int64_t w_stride,
                          const uint8_t* const* scale_rows, int wrows, int64_t n, float* out) {
  ByStreams<E4m3StreamsOp>(wrows, rows, x, w, w_stride, scale_rows, n, out);
}
void E2m1WeightRowsAvx512(const uint16_t* const* x, int rows, const uint8_t* w, int64_t w_stride,
                          const uint8_t* const* scale_rows, int wrows, int64_t n, float* out) {
  ByStreams<E2m1StreamsOp>(wrows, rows, x, w, w_stride, scale_rows, n, out);
}

// ---- e2m1 decode products on fp32 FMAs ----
//
// Per fp32 lane i, vdpbf16ps(acc, x, w) on the Intel cores measured is exactly
//   acc = fma(x[2i + 1], w[2i + 1], acc); acc = fma(x[2i], w[2i], acc)
// with denormal inputs and results flushed to zero (0 mismatches in 16M lanes, bench/
// RESULTS.md), and those cores issue one vdpbf16ps every other cycle against two FMAs a
// cycle, so decode's FP4 products, bound there by their dot products and the decode
// shuffles, run faster as FMAs on weights decoded straight to fp32 (vpermps on a 16-entry
// table: lane l of vector j is value 8l + j of a 128-value step, which is where the
// packed e2m1 order puts the odd (j = 4 + c) and even (j = c) halves of its vector c).
// Flushing never applies where every nonzero activation is at least 2^-118 (products of
// a bf16 and an e2m1 value are then multiples of 2^-126, and so is every rounded partial
// sum), which split_e2m1_acts checks; without it the FMAs give vdpbf16ps's bits
// (VdpbfIsFmaPairs checks the CPU at start-up).

// Per 32 packed values: the 16 odd elements as fp32, then the 16 even ones; false if a
// nonzero value is below 2^-118 (|bits| in (0, 0x04800000)).
bool SplitE2m1Acts(const uint16_t* x, int64_t n, float* out) {
  const __m512i high = _mm512_set1_epi32(int32_t(0xFFFF0000u));
  const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF);
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i below = _mm512_set1_epi32(0x047FFFFF);  // |bits| - 1 below this: 0 < |x| < 2^-118
  __mmask16 tiny = 0;
  for (int64_t k = 0; k < n; k += 32) {
    const __m512i v = Load(x + k);
    const __m512i odd = _mm512_and_si512(v, high);
    const __m512i even = _mm512_slli_epi32(v, 16);
    _mm512_storeu_si512(out + k, odd);
    _mm512_storeu_si512(out + k + 16, even);
    tiny |= _mm512_cmplt_epu32_mask(_mm512_sub_epi32(_mm512_and_si512(odd, abs_mask), one), below);
    tiny |= _mm512_cmplt_epu32_mask(_mm512_sub_epi32(_mm512_and_si512(even, abs_mask), one), below);
  }
  return tiny == 0;
}

// E2m1Streams on split activations (x[r]: split_e2m1_acts rows): per half step P of a
// stream, part = the four FMAs of vdpbf16ps's two dot steps in their order (j = 4 + 2P,
// 2P, 5 + 2P, 1 + 2P), from zero, then acc + part · s.
template <int S, int R, bool kRealign>
void E2m1StreamsFma(const float* const* x, const uint8_t* w, int64_t w_stride,
                    const uint8_t* const* scale_bytes, int64_t n, float* out) {
  const __m512 table = E2m1F32Table();
  WalkE2m1Streams<S, R, kRealign>(w, w_stride, scale_bytes, n, out, [&](int64_t k, const __m512i* v, auto scale,
                                                                        __m512 (&acc)[S][R]) {
#pragma GCC unroll 4
    for (int s = 0; s < S; ++s) {
      const __m512 sc = scale(s);
      __m512 wj[8];
      wj[0] = _mm512_permutexvar_ps(v[s], table);
#pragma GCC unroll 8
      for (int j = 1; j < 8; ++j) wj[j] = _mm512_permutexvar_ps(_mm512_srli_epi32(v[s], 4 * j), table);
#pragma GCC unroll 2
      for (int p = 0; p < 2; ++p) {
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const float* xr = x[r] + k + 64 * p;
          __m512 part = _mm512_fmadd_ps(_mm512_loadu_ps(xr), wj[4 + 2 * p], _mm512_setzero_ps());
          part = _mm512_fmadd_ps(_mm512_loadu_ps(xr + 16), wj[2 * p], part);
          part = _mm512_fmadd_ps(_mm512_loadu_ps(xr + 32), wj[5 + 2 * p], part);
          part = _mm512_fmadd_ps(_mm512_loadu_ps(xr + 48), wj[1 + 2 * p], part);
          acc[s][r] = _mm512_fmadd_ps(part, sc, acc[s][r]);
        }
      }
    }
  });
}

template <int S, int R> struct E2m1StreamsFmaOp {
  static void Run(const float* const* x, const uint8_t* w, int64_t ws, const uint8_t* const* sr, int64_t n, float* o) {
    if (LineAlignedLoads::Pays(w, ws)) {
      E2m1StreamsFma<S, R, true>(x, w, ws, sr, n, o);
    } else {
      E2m1StreamsFma<S, R, false>(x, w, ws, sr, n, o);
    }
  }
};
void E2m1WeightRowsFmaAvx512(const float* const* x, int rows, const uint8_t* w, int64_t w_stride,
                             const uint8_t* const* scale_rows, int wrows, int64_t n, float* out) {
  ByStreams<E2m1StreamsFmaOp>(wrows, rows, x, w, w_stride, scale_rows, n, out);
}

// Whether this CPU's vdpbf16ps gives, lane for lane, the bits of the two FMAs above: 4096
// lanes of bf16 products over exponents 2^-30..2^30 (both signs, zeros among them) added
// to accumulators of the same range, where the two summation orders (and a single
// rounding of both products) round differently.
bool VdpbfIsFmaPairs() {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> exponent(127 - 30, 127 + 30), mantissa(0, 127), sign(0, 1), zero(0, 15);
  auto bf16 = [&] {
    if (zero(rng) == 0) return uint16_t(sign(rng) << 15);
    return uint16_t((sign(rng) << 15) | (exponent(rng) << 7) | mantissa(rng));
  };
  const __m512i high = _mm512_set1_epi32(int32_t(0xFFFF0000u));
  for (int it = 0; it < 256; ++it) {
    alignas(64) uint16_t xs[32], ws[32];
    alignas(64) float acc[16];
    for (int i = 0; i < 32; ++i) {
      xs[i] = bf16();
      ws[i] = bf16();
    }
    for (int i = 0; i < 16; ++i) {
      const uint32_t hi = bf16();
      acc[i] = std::bit_cast<float>(uint32_t(hi << 16 | ((hi & 0x7F80) != 0 ? rng() & 0xFFFF : 0)));  // never denormal
    }
    const __m512i x = Load(xs), wv = Load(ws);
    const __m512 a = _mm512_load_ps(acc);
    const __m512 got = Dp(a, x, wv);
    const __m512 odd = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(x, high)),
                                       _mm512_castsi512_ps(_mm512_and_si512(wv, high)), a);
    const __m512 want = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(x, 16)),
                                        _mm512_castsi512_ps(_mm512_slli_epi32(wv, 16)), odd);
    if (_mm512_cmpneq_epi32_mask(_mm512_castps_si512(got), _mm512_castps_si512(want)) != 0) return false;
  }
  return true;
}

// Seconds for `iters` rounds of 8 independent chains of one vdpbf16ps (dp) or two FMAs.
template <bool kDp>
__attribute__((noinline)) double TimeDotChains(int64_t iters) {
  __m512 a0 = _mm512_set1_ps(1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  const __m512i x = _mm512_set1_epi16(int16_t(0x3F80));
  const __m512 y = _mm512_set1_ps(1e-8f);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iters; ++i) {
    if constexpr (kDp) {
      a0 = Dp(a0, x, x), a1 = Dp(a1, x, x), a2 = Dp(a2, x, x), a3 = Dp(a3, x, x);
      a4 = Dp(a4, x, x), a5 = Dp(a5, x, x), a6 = Dp(a6, x, x), a7 = Dp(a7, x, x);
    } else {
      a0 = _mm512_fmadd_ps(_mm512_fmadd_ps(a0, y, y), y, y), a1 = _mm512_fmadd_ps(_mm512_fmadd_ps(a1, y, y), y, y);
      a2 = _mm512_fmadd_ps(_mm512_fmadd_ps(a2, y, y), y, y), a3 = _mm512_fmadd_ps(_mm512_fmadd_ps(a3, y, y), y, y);
      a4 = _mm512_fmadd_ps(_mm512_fmadd_ps(a4, y, y), y, y), a5 = _mm512_fmadd_ps(_mm512_fmadd_ps(a5, y, y), y, y);
      a6 = _mm512_fmadd_ps(_mm512_fmadd_ps(a6, y, y), y, y), a7 = _mm512_fmadd_ps(_mm512_fmadd_ps(a7, y, y), y, y);
    }
    __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7));
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Whether two FMAs run clearly faster than one vdpbf16ps here (best of 7, interleaved;
// ~1 ms): on the Intel Xeon measured 0.25 ns per FMA against 0.78 per vdpbf16ps. A CPU
// with full-rate vdpbf16ps keeps the vdpbf16ps kernel (fewer instructions). DSV4_E2M1_FMA
// = 1 / 0 decides instead (for A/B runs).
bool E2m1FmaPreferred() {
  if (const char* env = std::getenv("DSV4_E2M1_FMA")) return std::strcmp(env, "0") != 0;
  double dp = 1e9, fma = 1e9;
  for (int i = 0; i < 7; ++i) {
    dp = std::min(dp, TimeDotChains<true>(4096));
    fma = std::min(fma, TimeDotChains<false>(4096));
  }
  return fma < 0.8 * dp;
}

// fp32 dot product with DotF32Avx2's bits in half its instructions: that kernel's four
// 8-lane accumulators a0..a3 are the halves of two 16-lane ones (lo = a0 | a1 over x[k,
// k + 16), hi = a2 | a3 over x[k + 16, k + 32)), so each lane takes the same FMAs in the
// same order; its 8-value steps and masked tail then go to a0 and a1 as there, and the
// sums meet as (a0 + a1) + (a2 + a3) in the same horizontal order. (The HC mixers' F32
// [24, 16384] products read a 64 KiB activation row per weight row.)
float DotF32Avx512(const float* x, const float* w, int64_t n) {
  __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 32 <= n; k += 32) {
    lo = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), _mm512_loadu_ps(w + k), lo);
    hi = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(w + k + 16), hi);
  }
  __m256 a0 = _mm512_castps512_ps256(lo), a1 = _mm512_extractf32x8_ps(lo, 1);
  const __m256 a2 = _mm512_castps512_ps256(hi), a3 = _mm512_extractf32x8_ps(hi, 1);
  for (; k + 8 <= n; k += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), _mm256_loadu_ps(w + k), a0);
  if (k < n) {  // zeros in the other lanes, as AVX2's masked loads give
    const __mmask8 m = __mmask8((1u << (n - k)) - 1);
    a1 = _mm256_fmadd_ps(_mm256_maskz_loadu_ps(m, x + k), _mm256_maskz_loadu_ps(m, w + k), a1);
  }
  return HorizontalSum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

// GEMM panels (dot.h): weight rows decoded once per batch, unscaled, in the packed order.
// (Rows off a cache line are read as whole lines, as the stream kernels do.)
template <bool kRealign>
void DecodeE4m3Row(const uint8_t* w, int64_t n, uint16_t* out) {
  const E4m3Tables t = SharedE4m3Tables();
  const LineAlignedLoads lines(w);
  for (int64_t k = 0; k < n; k += 64) {
    __m512i a, b;
    DecodeE4m3x64(t, kRealign ? lines.Load64(w + k) : _mm512_loadu_si512(w + k), &a, &b);
    _mm512_storeu_si512(out + k, a);
    _mm512_storeu_si512(out + k + 32, b);
  }
}
void DecodeE4m3RowAvx512(const uint8_t* w, int64_t n, uint16_t* out) {
  if (LineAlignedLoads::Pays(w, 0)) return DecodeE4m3Row<true>(w, n, out);
  DecodeE4m3Row<false>(w, n, out);
}

template <bool kRealign>
void DecodeE2m1Row(const uint8_t* w, int64_t n, uint16_t* out) {
  const __m512i table = E2m1Table();
  const LineAlignedLoads lines(w);
  for (int64_t k = 0; k < n; k += 128) {
    const __m512i v = kRealign ? lines.Load64(w + k / 2) : _mm512_loadu_si512(w + k / 2);
    __m512i a, b;
    DecodeE2m1Half<0>(table, v, &a, &b);
    _mm512_storeu_si512(out + k, a);
    _mm512_storeu_si512(out + k + 32, b);
    DecodeE2m1Half<1>(table, v, &a, &b);
    _mm512_storeu_si512(out + k + 64, a);
    _mm512_storeu_si512(out + k + 96, b);
  }
}
void DecodeE2m1RowAvx512(const uint8_t* w, int64_t n, uint16_t* out) {
  if (LineAlignedLoads::Pays(w, 0)) return DecodeE2m1Row<true>(w, n, out);
  DecodeE2m1Row<false>(w, n, out);
}

// W panel rows x R activation rows with per-block scales, S dot steps (of 32 values) per
// scaled part: 4 for e4m3 (one scale per 128), 2 for e2m1 (a 64-value half step; fp32
// lanes 4b..4b+3 hold block b of the 128-value step: scales [s0 x4, .., s3 x4]). Per
// output exactly E4m3Rows / E2m1Rows: part = dot steps from zero, acc += part · s.
template <int S, int W, int R>
void ScaledPanelTile(const uint16_t* const* x, const uint16_t* panel, int64_t stride,
                     const float* const* scales, int64_t n, float* out, const uint8_t** pf,
                     const uint8_t* pf_end) {
  __m512 acc[W][R];
#pragma GCC unroll 6
  for (int i = 0; i < W; ++i) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[i][r] = _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < n; k += 32 * S) {
    // Two lines per e4m3 step (128 values), one per e2m1 step (64): at up to 16 tokens a
    // 6-row panel's tiles take 8 calls, K / 16 e4m3 steps in all, and the next panel is
    // 6 K bytes (e4m3) or 3 K (e2m1); one line per e4m3 step fetched two thirds of it.
    if (*pf < pf_end) {
      _mm_prefetch(reinterpret_cast<const char*>(*pf), _MM_HINT_T1);
      if constexpr (S == 4) _mm_prefetch(reinterpret_cast<const char*>(*pf) + 64, _MM_HINT_T1);
      *pf += S == 4 ? 128 : 64;
    }
    __m512 part[W][R];
#pragma GCC unroll 4
    for (int j = 0; j < S; ++j) {
      __m512i wv[W];
#pragma GCC unroll 6
      for (int i = 0; i < W; ++i) wv[i] = Load(panel + i * stride + k + 32 * j);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512i xv = Load(x[r] + k + 32 * j);
#pragma GCC unroll 6
        for (int i = 0; i < W; ++i) part[i][r] = Dp(j == 0 ? _mm512_setzero_ps() : part[i][r], xv, wv[i]);
      }
    }
#pragma GCC unroll 6
    for (int i = 0; i < W; ++i) {
      const __m512 s = S == 4 ? _mm512_set1_ps(scales[i][k / 128]) : E2m1StepScales(&scales[i][k / 128 * 4]);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[i][r] = _mm512_fmadd_ps(part[i][r], s, acc[i][r]);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < W; ++i) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) out[i * R + r] = _mm512_reduce_add_ps(acc[i][r]);
  }
}

// rows (1..kPackedRowsMax) -> the template instance with that many accumulators.
template <template <int> class K, typename... A>
void ByRows(int rows, A... args) {
  switch (rows) {
    case 1: return K<1>::Run(args...);
    case 2: return K<2>::Run(args...);
    case 3: return K<3>::Run(args...);
    case 4: return K<4>::Run(args...);
    case 5: return K<5>::Run(args...);
    case 6: return K<6>::Run(args...);
    case 7: return K<7>::Run(args...);
    default: return K<8>::Run(args...);
  }
}
// rows (1..4) -> the template instance (tiles of more than 3 weight rows).
template <template <int> class K, typename... A>
void ByRows4(int rows, A... args) {
  switch (rows) {
    case 1: return K<1>::Run(args...);
    case 2: return K<2>::Run(args...);
    case 3: return K<3>::Run(args...);
    default: return K<4>::Run(args...);
  }
}
template <int W> struct Bf16TileOp {
  template <int R> struct Op {
    static void Run(const uint16_t* const* x, const uint16_t* w, int64_t ws, int64_t n, float* o) {
      Bf16Tile<W, R>(x, w, ws, n, o);
    }
  };
};
template <int R> struct E2m1Op { static void Run(const uint16_t* const* x, const uint8_t* w, const uint8_t* s, int64_t n, float* o) { E2m1Rows<R>(x, w, s, n, o); } };
template <int R> struct E4m3Op { static void Run(const uint16_t* const* x, const uint8_t* w, const uint8_t* s, int64_t n, float* o) { E4m3Rows<R>(x, w, s, n, o); } };

// W x R tiles with W * R <= 24 accumulators: up to 6 weight rows for up to 4 activation
// rows (few activation rows still keep 6+ independent accumulator chains in flight),
// else 3. Each output's arithmetic is the same in every tile shape.
void Bf16RowsPacked(const uint16_t* const* x, int rows, const uint16_t* w, int64_t w_stride,
                    int wrows, int64_t n, float* out) {
  const int wmax = rows <= 4 ? 6 : 3;
  for (int i0 = 0; i0 < wrows; i0 += wmax) {
    const uint16_t* wi = w + i0 * w_stride;
    float* o = out + i0 * rows;
    switch (std::min(wmax, wrows - i0)) {
      case 1: ByRows<Bf16TileOp<1>::Op>(rows, x, wi, w_stride, n, o); break;
      case 2: ByRows<Bf16TileOp<2>::Op>(rows, x, wi, w_stride, n, o); break;
      case 3: ByRows<Bf16TileOp<3>::Op>(rows, x, wi, w_stride, n, o); break;
      case 4: ByRows4<Bf16TileOp<4>::Op>(rows, x, wi, w_stride, n, o); break;
      case 5: ByRows4<Bf16TileOp<5>::Op>(rows, x, wi, w_stride, n, o); break;
      default: ByRows4<Bf16TileOp<6>::Op>(rows, x, wi, w_stride, n, o); break;
    }
  }
}
void E2m1RowsPacked(const uint16_t* const* x, int rows, const uint8_t* w, const uint8_t* s,
                    int64_t n, float* out) {
  ByRows<E2m1Op>(rows, x, w, s, n, out);
}
void E4m3RowsPacked(const uint16_t* const* x, int rows, const uint8_t* w, const uint8_t* s,
                    int64_t n, float* out) {
  ByRows<E4m3Op>(rows, x, w, s, n, out);
}

// Sum of 16 lanes in a fixed tree: y[i] = a[i] + a[i+8], then ((y0+y1)+(y2+y3)) +
// ((y4+y5)+(y6+y7)). Reduce4 gives four accumulators' sums with the same tree (hadd
// pairs), so a score does not depend on which keys share its group.
inline float Reduce1(__m512 a) {
  const __m256 y = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(y, y), y);
  return _mm_cvtss_f32(_mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
}
inline __m128 Reduce4(const __m512* a) {
  __m256 y[4];
  for (int j = 0; j < 4; ++j) y[j] = _mm256_add_ps(_mm512_castps512_ps256(a[j]), _mm512_extractf32x8_ps(a[j], 1));
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(y[0], y[1]), _mm256_hadd_ps(y[2], y[3]));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// Scores of HH heads' packed bf16 queries (qb, qb + d) against K keys (K = 4 or 1):
// HH·K accumulators, each query vector loaded once for the K keys and each key vector
// once for the HH heads; the tail (d % 32) through masked loads. out[h·n + j].
template <int HH, int K>
inline void DotBf16KeysGroup(const uint16_t* qb, const uint16_t* const* keys, int64_t d, int64_t n, float* out) {
  __m512 acc[HH][K];
#pragma GCC unroll 2
  for (int i = 0; i < HH; ++i) {
#pragma GCC unroll 4
    for (int j = 0; j < K; ++j) acc[i][j] = _mm512_setzero_ps();
  }
  int64_t k = 0;
  for (; k + 32 <= d; k += 32) {
    __m512i kv[K];
#pragma GCC unroll 4
    for (int j = 0; j < K; ++j) kv[j] = Load(keys[j] + k);
#pragma GCC unroll 2
    for (int i = 0; i < HH; ++i) {
      const __m512i qv = Load(qb + i * d + k);
#pragma GCC unroll 4
      for (int j = 0; j < K; ++j) acc[i][j] = Dp(acc[i][j], kv[j], qv);
    }
  }
  if (k < d) {
    const __mmask32 m = __mmask32((uint64_t(1) << (d - k)) - 1);
    __m512i kv[K];
#pragma GCC unroll 4
    for (int j = 0; j < K; ++j) kv[j] = _mm512_maskz_loadu_epi16(m, keys[j] + k);
#pragma GCC unroll 2
    for (int i = 0; i < HH; ++i) {
      const __m512i qv = _mm512_maskz_loadu_epi16(m, qb + i * d + k);
#pragma GCC unroll 4
      for (int j = 0; j < K; ++j) acc[i][j] = Dp(acc[i][j], kv[j], qv);
    }
  }
#pragma GCC unroll 2
  for (int i = 0; i < HH; ++i) {
    if constexpr (K == 4) {
      _mm_storeu_ps(out + i * n, Reduce4(acc[i]));
    } else {
      for (int j = 0; j < K; ++j) out[i * n + j] = Reduce1(acc[i][j]);
    }
  }
}

void DotBf16KeysAvx512(const float* q, int64_t heads, const uint16_t* const* keys, int64_t n, int64_t d,
                       float* out) {
  // The queries are bf16-exact (contract), so their bf16 bits are their values.
  thread_local std::vector<uint16_t> qb;
  const int64_t total = heads * d;
  qb.resize(size_t(total));
  // 32 words per vpermt2w (a scalar loop here was ~1.8% of a 512-token prefill chunk).
  Bf16Packer pk;  // (its exactness record is not needed: bf16-exact by contract)
  int64_t i = 0;
  for (; i + 32 <= total; i += 32) _mm512_storeu_si512(&qb[size_t(i)], pk.Words32(q + i));
  for (; i < total; ++i) qb[size_t(i)] = Bf16Bits(q[i]);
  // Keys outer, heads inner: a group of 4 keys (4 KiB at d = 512) stays in L1 while
  // every head's query runs over it, two heads at a time.
  auto group = [&](int64_t u, auto keys_const) {
    constexpr int K = decltype(keys_const)::value;
    int64_t h = 0;
    for (; h + 2 <= heads; h += 2) DotBf16KeysGroup<2, K>(&qb[size_t(h * d)], keys + u, d, n, out + h * n + u);
    for (; h < heads; ++h) DotBf16KeysGroup<1, K>(&qb[size_t(h * d)], keys + u, d, n, out + h * n + u);
  };
  int64_t u = 0;
  for (; u + 4 <= n; u += 4) group(u, std::integral_constant<int, 4>{});
  for (; u < n; ++u) group(u, std::integral_constant<int, 1>{});
}

template <int S, int W> struct PanelOp {
  template <int R> struct Op {
    static void Run(const uint16_t* const* x, const uint16_t* p, int64_t st, const float* const* s, int64_t n, float* o,
                    const uint8_t** pf, const uint8_t* pf_end) {
      ScaledPanelTile<S, W, R>(x, p, st, s, n, o, pf, pf_end);
    }
  };
};

// Tiles of at most 12 output pairs (each needs a part and an acc register): 3 weight rows
// for up to 4 activation rows, 2 for 5-6; same arithmetic in every shape.
template <int S>
void ScaledPanelRows(const uint16_t* const* x, int rows, const uint16_t* panel, int64_t stride,
                     int wrows, const float* const* scales, int64_t n, float* out,
                     const uint8_t** pf, const uint8_t* pf_end) {
  const uint8_t* no_prefetch = nullptr;
  if (pf == nullptr) pf = &no_prefetch;
  // 5-8 rows split evenly (8 = 4 + 4 with 3 weight rows each, not 6 + 2).
  const int step = rows <= 4 ? 4 : rows <= 6 ? rows : (rows + 1) / 2;
  for (int r0 = 0; r0 < rows; r0 += step) {
    const int rr = std::min(step, rows - r0);
    const int wmax = rr <= 4 ? 3 : 2;
    for (int i0 = 0; i0 < wrows; i0 += wmax) {
      const int wi = std::min(wmax, wrows - i0);
      float o[kPackedWeightRowsMax * 6];
      switch (wi) {
        case 1: ByRows<PanelOp<S, 1>::template Op>(rr, x + r0, panel + i0 * stride, stride, scales + i0, n, o, pf, pf_end); break;
        case 2: ByRows<PanelOp<S, 2>::template Op>(rr, x + r0, panel + i0 * stride, stride, scales + i0, n, o, pf, pf_end); break;
        default: ByRows4<PanelOp<S, 3>::template Op>(rr, x + r0, panel + i0 * stride, stride, scales + i0, n, o, pf, pf_end); break;
      }
      for (int i = 0; i < wi; ++i) {
        for (int r = 0; r < rr; ++r) out[(i0 + i) * rows + r0 + r] = o[i * rr + r];
      }
    }
  }
}

void PanelTileAvx512(PackedFormat format, const uint16_t* const* x, int rows, const uint16_t* panel,
                     int64_t stride, int wrows, const float* const* scales, int64_t n, float* out,
                     const uint8_t** pf, const uint8_t* pf_end) {
  DSV4_CHECK(format != PackedFormat::kBf16);
  if (format == PackedFormat::kE4m3) return ScaledPanelRows<4>(x, rows, panel, stride, wrows, scales, n, out, pf, pf_end);
  ScaledPanelRows<2>(x, rows, panel, stride, wrows, scales, n, out, pf, pf_end);
}

}  // namespace

const DotKernels* Avx512DotKernels() {
  static const DotKernels* kernels = []() -> const DotKernels* {
    const bool supported = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                           __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vbmi");
    const DotKernels* avx2 = Avx2DotKernels();
    if (!supported || avx2 == nullptr) return nullptr;
    static DotKernels k = *avx2;
    k.isa = "avx512";
    k.dot_f32 = DotF32Avx512;
    k.pack_bf16_acts = PackActsAvx512;
    k.bf16_rows_packed = Bf16RowsPacked;
    k.e4m3_rows_packed = E4m3RowsPacked;
    k.e2m1_rows_packed = E2m1RowsPacked;
    k.dot_bf16_keys = DotBf16KeysAvx512;
    k.decode_e4m3_row = DecodeE4m3RowAvx512;
    k.decode_e2m1_row = DecodeE2m1RowAvx512;
    k.panel_tile = PanelTileAvx512;
    k.e4m3_weight_rows = E4m3WeightRowsAvx512;
    k.e2m1_weight_rows = E2m1WeightRowsAvx512;
    k.ue8m0_to_float = ScalesToFloat;
    if (VdpbfIsFmaPairs()) {
      k.split_e2m1_acts = SplitE2m1Acts;
      k.e2m1_weight_rows_fma = E2m1WeightRowsFmaAvx512;
      k.e2m1_fma_preferred = E2m1FmaPreferred();
    }
    return &k;
  }();
  return kernels;
}

}  // namespace dsv4::kernels
