// bf16 weights repacked at load into blocks of 16 rows (the head: 1.06 GB, most of a
// batch-16 step's arithmetic), for products where each fp32 lane of a vdpbf16ps
// accumulates one output:
//   block b holds rows 16b..16b+15; within it, for each k pair p (k = 2p, 2p + 1), the 16
//   rows' two values: element [b][p][row][j] = W[16b + row][2p + j] (rows past N are 0).
// One 64-byte load is then 16 rows x one k pair, multiplied by that pair of an activation
// row broadcast to every lane: out[row] += W[row][2p]·x[2p] + W[row][2p+1]·x[2p+1] for 16
// outputs at once, with no lane sums at the end. In the row-major layout a tile keeps one
// accumulator per (weight row, activation row) and reloads every activation vector for
// each group of weight rows, so a batch-16 product re-read its activations and weights
// from L2 four times; here a tile of 3 blocks x 8 activation rows loads each weight vector
// once per 8 rows and each activation pair as a broadcast (one thread, 192 MB of weights,
// T = 16, GFLOP/s: row-major 6 x 4 tiles 146-184, blocks 3 x 8 218-262; two threads
// 242-349 vs 444-455; /tmp/kb/hr2.cc, bench/RESULTS.md).
//
// Arithmetic: out = Σ over k pairs in ascending order, one vdpbf16ps per pair, from 0 —
// the same for every tile shape, row count and thread split (so a sequence's logits do
// not depend on the batch); it differs from the row-major kernels' (16 lanes, then a lane
// sum) by fp32 summation order only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dsv4::kernels {

constexpr int64_t kRowBlockRows = 16;

// Elements of the blocked copy of an [N, K] matrix (N rounded up to whole blocks).
inline int64_t RowBlocksElements(int64_t N, int64_t K) {
  return (N + kRowBlockRows - 1) / kRowBlockRows * kRowBlockRows * K;
}

// w: [N, K] bf16 row-major (K even) -> out: RowBlocksElements(N, K) elements. Uses the pool.
void PackBf16RowBlocks(const uint16_t* w, int64_t N, int64_t K, uint16_t* out);

// Products of `rows` bf16 activation rows x[r] (natural order, K values) with `nblocks`
// blocks at blocks + i * block_stride (elements): out[(r * nblocks + i) * 16 + lane] =
// output (row 16·(block i) + lane, activation row r). rows 1..8, nblocks 1..3, or rows 1
// with nblocks 4 (decode: four blocks far apart, each a stream from memory).
using Bf16BlocksFn = void (*)(const uint16_t* const* x, int rows, const uint16_t* blocks,
                              int64_t block_stride, int nblocks, int64_t K, float* out);

// Outputs of blocks b, b + block_stride, .., b + (nb - 1) block_stride for activation rows
// t0 .. t0 + rows - 1, laid out as out[(r * nb + i) * 16 + lane] (the products' layout),
// into y[(t0 + r) * ldy + n] for the matrix rows 16 (b + i block_stride) + lane =
// row_begin + n with n in [0, N) (the blocks at a range's ends are computed whole),
// bf16-rounded if asked.
void StoreRowBlockOutputs(const float* out, int64_t b, int nb, int64_t t0, int rows, int64_t row_begin, int64_t N,
                          float* y, int64_t ldy, bool round_bf16, int64_t block_stride = 1);

// Scalar reference: per output, the k pairs in ascending order, each pair's two products
// summed and added in fp32 (vdpbf16ps may round the pair differently).
void Bf16BlocksRef(const uint16_t* const* x, int rows, const uint16_t* blocks, int64_t block_stride,
                   int nblocks, int64_t K, float* out);
// AVX-512 BF16 version, or nullptr where the CPU (or build) lacks it.
Bf16BlocksFn Bf16BlocksAvx512();
// The version fast-mode products use: AVX-512 where the active dot-kernel set is avx512
// (DSV4_ISA caps it), else nullptr (no blocked copies are made).
Bf16BlocksFn ActiveBf16Blocks();

}  // namespace dsv4::kernels
