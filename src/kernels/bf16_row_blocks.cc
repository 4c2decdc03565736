#include "kernels/bf16_row_blocks.h"

#include <algorithm>
#include <cstring>

#include "core/dtype.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "kernels/dot.h"
#include "kernels/isa.h"
#include "kernels/precision.h"

namespace dsv4::kernels {

void PackBf16RowBlocks(const uint16_t* w, int64_t N, int64_t K, uint16_t* out) {
  DSV4_CHECK(K % 2 == 0);
  const int64_t blocks = (N + kRowBlockRows - 1) / kRowBlockRows;
  ParallelFor(size_t(blocks), 1, [&](size_t b0, size_t b1) {
    for (int64_t b = int64_t(b0); b < int64_t(b1); ++b) {
      uint32_t* dst = reinterpret_cast<uint32_t*>(out + b * kRowBlockRows * K);
      const int64_t rows = std::min(kRowBlockRows, N - b * kRowBlockRows);
      // Written in order (k pair outer), read as 16 row streams; a row's k pair is one
      // uint32 (memcpy: a row may sit at any 2-byte offset of the map).
      for (int64_t p = 0; p < K / 2; ++p) {
        for (int64_t row = 0; row < kRowBlockRows; ++row) {
          uint32_t pair = 0;
          if (row < rows) std::memcpy(&pair, w + (b * kRowBlockRows + row) * K + 2 * p, 4);
          dst[p * kRowBlockRows + row] = pair;
        }
      }
    }
  });
}

void StoreRowBlockOutputs(const float* out, int64_t b, int nb, int64_t t0, int rows, int64_t row_begin, int64_t N,
                          float* y, int64_t ldy, bool round_bf16, int64_t block_stride) {
  for (int r = 0; r < rows; ++r) {
    for (int i = 0; i < nb; ++i) {
      for (int64_t lane = 0; lane < kRowBlockRows; ++lane) {
        const int64_t n = (b + i * block_stride) * kRowBlockRows + lane - row_begin;
        if (n < 0 || n >= N) continue;
        const float v = out[(r * nb + i) * kRowBlockRows + lane];
        y[(t0 + r) * ldy + n] = round_bf16 ? RoundBf16(v) : v;
      }
    }
  }
}

void Bf16BlocksRef(const uint16_t* const* x, int rows, const uint16_t* blocks, int64_t block_stride,
                   int nblocks, int64_t K, float* out) {
  for (int r = 0; r < rows; ++r) {
    for (int i = 0; i < nblocks; ++i) {
      const uint16_t* blk = blocks + i * block_stride;
      for (int64_t lane = 0; lane < kRowBlockRows; ++lane) {
        float acc = 0.0f;
        for (int64_t p = 0; p < K / 2; ++p) {
          const uint16_t* wp = blk + (p * kRowBlockRows + lane) * 2;
          acc += Bf16ToFloat(wp[0]) * Bf16ToFloat(x[r][2 * p]) + Bf16ToFloat(wp[1]) * Bf16ToFloat(x[r][2 * p + 1]);
        }
        out[(r * nblocks + i) * kRowBlockRows + lane] = acc;
      }
    }
  }
}

Bf16BlocksFn ActiveBf16Blocks() {
  // Only where the fast kernel set is the AVX-512 one (DSV4_ISA caps it): the products
  // then use the same packed activations.
  static const Bf16BlocksFn fn =
      Avx512DotKernels() != nullptr ? ChooseByIsa<Bf16BlocksFn>(nullptr, Bf16BlocksAvx512(), nullptr) : nullptr;
  return PreciseMath() ? nullptr : fn;
}

}  // namespace dsv4::kernels
