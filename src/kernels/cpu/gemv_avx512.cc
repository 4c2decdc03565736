// AVX-512 BF16 decode GEMV (see kernels/gemv.h); this file alone is compiled for it.
#include <immintrin.h>

#include "kernels/gemv.h"

namespace dsv4::kernels {
namespace {

inline __m512 Dp(__m512 acc, __m512i a, __m512i b) {
  return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh>(a), reinterpret_cast<__m512bh>(b));
}

// R rows at once, each with one accumulator in k order (the arithmetic of Bf16Tile<1, 1>,
// dot_avx512.cc): R independent dependency chains. One row alone is a chain of K/32
// vdpbf16ps, bound by their latency (~36 GB/s per thread); with 4 the stream is bound by
// memory.
template <int R>
void Bf16GemvRows(const uint16_t* x, const uint16_t* w, int64_t K, float* out) {
  __m512 acc[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 32) {
    const __m512i xv = _mm512_loadu_si512(x + k);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) acc[r] = Dp(acc[r], xv, _mm512_loadu_si512(w + r * K + k));
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

void Bf16Gemv(const uint16_t* x, const uint16_t* w, int64_t K, int64_t rows, float* out) {
  int64_t i = 0;
  for (; i + 4 <= rows; i += 4) Bf16GemvRows<4>(x, w + i * K, K, out + i);
  for (; i < rows; ++i) Bf16GemvRows<1>(x, w + i * K, K, out + i);
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
