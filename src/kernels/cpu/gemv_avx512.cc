// AVX-512 BF16 decode GEMV (see kernels/gemv.h); this file alone is compiled for it.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as pass-through operands, which
// its own -W(maybe-)uninitialized then reports inside the header (as in dot_avx512.cc).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "kernels/gemv.h"
#include "kernels/weight_streams.h"

namespace dsv4::kernels {
namespace {

inline __m512 Dp(__m512 acc, __m512i a, __m512i b) {
  return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh>(a), reinterpret_cast<__m512bh>(b));
}

// Rows far apart, each with one accumulator in k order (the arithmetic of Bf16Tile<1, 1>,
// dot_avx512.cc): S independent dependency chains (one row alone is a chain of K/32
// vdpbf16ps, bound by their latency) over S weight streams `stride` elements apart, each
// line fetched kStreamPrefetchBytes ahead. Streams in different regions of memory keep more
// DRAM pages and prefetch streams busy than S adjacent rows do (2 threads, 1 GiB of bf16
// rows from a mapped file: 4 adjacent rows 42 GB/s, 4 streams a quarter apart 54-56,
// with a 1 KiB prefetch 67-68; 8 streams 48-52; our reading, not measured directly:
// 4 x 1 KiB ahead is about as many lines in flight as one core sustains).
constexpr int64_t kStreamPrefetchBytes = 1024;
template <int S>
void Bf16GemvStreams(const uint16_t* x, const uint16_t* w, int64_t stride, int64_t K, float* out,
                     int64_t out_stride) {
  __m512 acc[S];
#pragma GCC unroll 4
  for (int s = 0; s < S; ++s) acc[s] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 32) {
    const __m512i xv = _mm512_loadu_si512(x + k);
#pragma GCC unroll 4
    for (int s = 0; s < S; ++s) {
      const uint16_t* ws = w + s * stride + k;
      _mm_prefetch(reinterpret_cast<const char*>(ws) + kStreamPrefetchBytes, _MM_HINT_T0);
      acc[s] = Dp(acc[s], xv, _mm512_loadu_si512(ws));
    }
  }
#pragma GCC unroll 4
  for (int s = 0; s < S; ++s) out[s * out_stride] = _mm512_reduce_add_ps(acc[s]);
}

// Four streams a quarter of the range apart (weight_streams.h); the rows left over alone.
void Bf16Gemv(const uint16_t* x, const uint16_t* w, int64_t K, int64_t rows, float* out) {
  constexpr int kStreams = 4;
  ForEachStreamGroup(rows, kStreams, [&](int64_t first, int64_t stride, int count) {
    if (count == kStreams) {
      Bf16GemvStreams<kStreams>(x, w + first * K, stride * K, K, out + first, stride);
    } else {
      Bf16GemvStreams<1>(x, w + first * K, 0, K, out + first, 0);
    }
  });
}

}  // namespace

Bf16GemvFn Bf16GemvAvx512() {
  static const Bf16GemvFn fn = [] {
    const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
    return ok ? Bf16GemvFn(Bf16Gemv) : nullptr;
  }();
  return fn;
}

}  // namespace dsv4::kernels
