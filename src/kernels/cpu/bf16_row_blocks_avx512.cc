// AVX-512 BF16 products on 16-row blocks (kernels/bf16_row_blocks.h); this file alone is
// compiled for it.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as pass-through operands, which
// its own -W(maybe-)uninitialized then reports inside the header (as in dot_avx512.cc).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "kernels/bf16_row_blocks.h"

namespace dsv4::kernels {
namespace {

// Each block's weights fetched this far ahead, one line per two k pairs (a block is a
// stream of its own; the decode GEMV walks four far apart, as gemv_avx512.cc's rows).
constexpr int64_t kBlockPrefetchBytes = 1024;

// WB blocks x R activation rows: WB·R accumulators, one weight load per block and one
// broadcast activation pair per row for each k pair.
template <int WB, int R>
void BlocksTile(const uint16_t* const* x, const uint16_t* blocks, int64_t stride, int64_t K, float* out) {
  __m512 acc[WB][R];
#pragma GCC unroll 4
  for (int i = 0; i < WB; ++i) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[i][r] = _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < K / 2; ++p) {
    __m512i wv[WB];
#pragma GCC unroll 4
    for (int i = 0; i < WB; ++i) {
      const uint16_t* wp = blocks + i * stride + p * 2 * kRowBlockRows;
      if (p % 2 == 0) _mm_prefetch(reinterpret_cast<const char*>(wp) + kBlockPrefetchBytes, _MM_HINT_T0);
      wv[i] = _mm512_loadu_si512(wp);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      uint32_t pair;
      std::memcpy(&pair, x[r] + 2 * p, 4);
      const __m512bh xv = reinterpret_cast<__m512bh>(_mm512_set1_epi32(int(pair)));
#pragma GCC unroll 4
      for (int i = 0; i < WB; ++i) acc[i][r] = _mm512_dpbf16_ps(acc[i][r], reinterpret_cast<__m512bh>(wv[i]), xv);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int i = 0; i < WB; ++i) _mm512_storeu_ps(out + (r * WB + i) * kRowBlockRows, acc[i][r]);
  }
}

template <int WB>
void ByRows(const uint16_t* const* x, int rows, const uint16_t* blocks, int64_t stride, int64_t K, float* out) {
  switch (rows) {
    case 1: return BlocksTile<WB, 1>(x, blocks, stride, K, out);
    case 2: return BlocksTile<WB, 2>(x, blocks, stride, K, out);
    case 3: return BlocksTile<WB, 3>(x, blocks, stride, K, out);
    case 4: return BlocksTile<WB, 4>(x, blocks, stride, K, out);
    case 5: return BlocksTile<WB, 5>(x, blocks, stride, K, out);
    case 6: return BlocksTile<WB, 6>(x, blocks, stride, K, out);
    case 7: return BlocksTile<WB, 7>(x, blocks, stride, K, out);
    default: return BlocksTile<WB, 8>(x, blocks, stride, K, out);
  }
}

void Bf16Blocks(const uint16_t* const* x, int rows, const uint16_t* blocks, int64_t block_stride, int nblocks,
                int64_t K, float* out) {
  switch (nblocks) {
    case 1: return ByRows<1>(x, rows, blocks, block_stride, K, out);
    case 2: return ByRows<2>(x, rows, blocks, block_stride, K, out);
    case 3: return ByRows<3>(x, rows, blocks, block_stride, K, out);
    default: return BlocksTile<4, 1>(x, blocks, block_stride, K, out);
  }
}

}  // namespace

Bf16BlocksFn Bf16BlocksAvx512() {
  static const Bf16BlocksFn fn = [] {
    const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
    return ok ? Bf16BlocksFn(Bf16Blocks) : nullptr;
  }();
  return fn;
}

}  // namespace dsv4::kernels
