// Tile order: one arithmetic for FP8/FP4 products at every batch size on CPUs with AMX.
//
// One TDPBF16PS adds to each fp32 accumulator c the products of 16 k pairs of bf16 values,
// and on the Xeon this was written on it does so exactly as
//   E = 0; O = 0; for i in 0..15: E = fma(a[2i], b[2i], E); O = fma(a[2i+1], b[2i+1], O)
//   c = c + (E + O)
// with denormal inputs and results flushed to zero (0 mismatches in 5 x 76800 outputs over
// five exponent ranges, tests/kernels/tile_order_test.cc checks it on every run where
// AMX is present). So the tiles' results can be reproduced bit for bit by fp32 FMAs under
// FTZ/DAZ, in an order the SIMD kernels find cheap: per 512 values of a row the weight
// decoder gives 16 vectors V_0..V_15 of 16 k pairs each (FP8: DecodeE4m3x64's a and b
// for each 64 codes, the packed e4m3 order; FP4: the group's 32-value scale blocks in the
// order kE2m1TileBlock, each in natural order), and tile step l (l = 0..15) of that group
// takes pair l of V_0..V_15 as its 16 k pairs. A SIMD lane then holds one tile step: E
// and O are two FMA chains over the 16 vectors, and c takes E + O lane by lane, in step
// order, after each group. (Keeping the tiles' natural FP4 order instead and gathering a
// vector's lanes across steps in the FMA kernel cost 8 instructions per vector against 7
// and made FP4 decode 1.5x slower; the AMX decoder pays for this order instead, 6
// instructions per step against 4, at T >= 4: bench/RESULTS.md.)
//
// With tile order, batched products (3 rows or more: linear.cc) run on
// AMX tiles (the weights decoded to bf16 with their scales folded in, each group
// transposed into steps; FP8 batches of up to 16 rows put the codes in step order before
// decoding and their scales on the activations instead; linear_amx.cc) and the rest on
// the AVX-512 kernels below, with the
// same bits for every row whatever the batch: prefill, chunked prefill, batched decode and solo decode
// agree exactly (README, Numerics). Rows whose scales do not fold into bf16 take the
// SIMD kernels at every batch size. DSV4_TILE_ORDER=0 keeps the earlier vdpbf16ps
// arithmetic (also batch-invariant, AMX unused for FP8/FP4).
#pragma once

#include <cstdint>

namespace dsv4::kernels {

// Values per group (16 tile steps of 32); tile order needs K to be a multiple of it.
constexpr int64_t kTileOrderGroup = 512;
// FP4: the scale block of a group that is V_p (PackedFormat::kE2m1Tile packs the
// activations' blocks in this order). The 4 x 4 transpose of p = 4L + q into 4q + L: where
// the AMX decoder's in-lane dword transposes put block 4q + L's bytes (linear_amx.cc).
constexpr int kE2m1TileBlock[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};

// AMX active (linear_amx.h) and tile order not switched off (DSV4_TILE_ORDER=0).
bool TileOrderActive();

// The FMA kernels' activations: per 32 packed bf16 values (the weight format's packed
// order: e4m3, or kE2m1Tile) the 16 even ones as fp32, then the 16 odd ones.
void SplitTileOrderActs(const uint16_t* x, int64_t n, float* out);

// rows (1..4) split activation rows x[r] against wrows (1..4) weight rows w + i * w_stride
// (bytes; FP8: e4m3 rows with scale_rows[i] their row block's K/128 ue8m0 scales; FP4:
// e2m1 rows, scale_rows[i] their K/32 scales): out[i * rows + r] with the tiles'
// arithmetic above. n a multiple of kTileOrderGroup. Sets FTZ/DAZ for its own FMAs.
void E4m3TileOrderRows(const float* const* x, int rows, const uint8_t* w, int64_t w_stride,
                       const uint8_t* const* scale_rows, int wrows, int64_t n, float* out);
void E2m1TileOrderRows(const float* const* x, int rows, const uint8_t* w, int64_t w_stride,
                       const uint8_t* const* scale_rows, int wrows, int64_t n, float* out);

}  // namespace dsv4::kernels
