// AVX-512 BF16 decode GEMV (see kernels/gemv.h); this file alone is compiled for it.
#include <immintrin.h>

#include "kernels/gemv.h"

namespace dsv4::kernels {
namespace {

inline __m512 Dp(__m512 acc, __m512i a, __m512i b) {
  return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh>(a), reinterpret_cast<__m512bh>(b));
}

void Bf16Gemv(const uint16_t* x, const uint16_t* w, int64_t K, int64_t rows, float* out) {
  for (int64_t i = 0; i < rows; ++i) {
    const uint16_t* wi = w + i * K;
    // One accumulator in k order: the arithmetic of Bf16Tile<1, 1> (dot_avx512.cc).
    __m512 acc = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 64 <= K; k += 64) {
      acc = Dp(acc, _mm512_loadu_si512(x + k), _mm512_loadu_si512(wi + k));
      acc = Dp(acc, _mm512_loadu_si512(x + k + 32), _mm512_loadu_si512(wi + k + 32));
    }
    for (; k < K; k += 32) acc = Dp(acc, _mm512_loadu_si512(x + k), _mm512_loadu_si512(wi + k));
    out[i] = _mm512_reduce_add_ps(acc);
  }
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
