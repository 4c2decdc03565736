// Fast-mode products on AMX tiles (Intel AMX-BF16: Sapphire Rapids and later Xeons).
//
// One TDPBF16PS multiplies a 16 x 32 bf16 tile by a 32 x 16 one into 16 x 16 fp32
// accumulators: on the 2-core Xeon VM this was written on, 1.4-1.6 TFLOP/s per core,
// against 78-87 GFLOP/s for vdpbf16ps (one every other cycle there) and 175 for fp32 FMAs
// (bench/RESULTS.md). Where AMX is active the blocked bf16 head (kernels/bf16_row_blocks.h)
// runs here for every T, so a row's result does not depend on the batch: a 16-row
// block's k pairs are already the B tile layout, the activation rows (natural order) are
// the A tile, and each C tile holds up to 16 tokens x 16 rows, accumulated over all of K
// in k order. The arithmetic is the tile unit's (its own summation order and rounding:
// not the vdpbf16ps kernels' bits; tests/kernels/bf16_row_blocks_test.cc).
//
// FP8/FP4 products of 3 rows or more (linear.cc) run here in tile order by default
// (kernels/tile_order.h): each 512-value group of decoded weights and of activations is
// transposed so that a tile step's k pairs are the ones a lane of the tile-order FMA
// kernels walks, and those kernels, which take the smaller products, give the same bits.
// Up to 16 rows, each 16-row panel's groups are decoded straight into tile steps (FP8:
// codes put in step order first, block scales on the activations) a group ahead of the
// tile products that read them (linear_amx.cc, LaggedStepProducts).
// (Natural order at T = 1 on the tiles ran 1.5-2.7x slower than the AVX-512 kernels in the
// best version tried, bench/RESULTS.md.) With tile order off and batch invariance off
// (kernels/precision.h) the products take LinearAmx in natural order: a row's bits then
// depend on how many rows share its product.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/dot.h"
#include "kernels/linear.h"

namespace dsv4::kernels {

// The CPU has AMX-BF16, the kernel granted this process the tile state (asked once), and
// DSV4_ISA allows it (DSV4_ISA=avx512 keeps the AVX-512 kernels).
bool AmxActive();

// y[t * ldy + n] = row row_begin + n of w · activation row t, for n < N, t < T: bf16
// weights with a blocked copy (w.row_blocks), `packed` T rows of K bf16 values in
// natural order. Requires AmxActive().
// Fewest activation rows a product takes to AMX when batch invariance is off (below, the
// AVX-512 kernels: fewer rows would leave the tiles mostly empty).
constexpr int64_t kAmxMinTokens = 8;

// FP8 (e4m3, 128 x 128 block scales) or FP4 (e2m1, per-32 scales) weights times T packed
// activation rows (`format`'s packed order, bf16-exact values): y[t * ldy + n] for rows
// row_begin + n, n < N. Each weight row is decoded to bf16 with its scales folded into the
// exponents (exact while they stay normal; the rows whose scales do not fold are appended
// to `unfolded` and left unwritten for the caller's SIMD kernels), then multiplied on the
// tile unit: within the fp32 summation bound of the exact product, not the SIMD kernels'
// bits. Requires AmxActive() and K % 128 == 0.
// With tile_order (kernels/tile_order.h; format kE4m3 or kE2m1Tile, K % 512 == 0) the
// products have the tile-order kernels' bits whatever T is.
void LinearAmx(const uint16_t* packed, int64_t T, PackedFormat format, const WeightMatrix& w, int64_t row_begin,
               int64_t N, float* y, int64_t ldy, bool round_bf16, bool tile_order, std::vector<int64_t>* unfolded);

void LinearRowBlocksAmx(const uint16_t* packed, int64_t T, const WeightMatrix& w, int64_t row_begin, int64_t N,
                        float* y, int64_t ldy, bool round_bf16);

}  // namespace dsv4::kernels
