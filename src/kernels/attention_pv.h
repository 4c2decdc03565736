// The P·V product of sparse attention's 64-key blocks (spec §6.9), for several heads
// that attend to the same keys: out[h][i] = Σ_u p[h][u] · v[u][i] over the block's keys
// in order, each product and the sum in double, as the reference kernel's f64 block
// sums. p[h][u] is a bf16-rounded probability and v[u] a bf16 row, so every product is
// exact in double: the SIMD versions add them key by key in the same order with fused
// multiply-adds (bit-identical to the scalar reference; a test checks it). This is the
// per-key cost of HCA layers, whose decode reads n/128 entries for each of 64 heads; the
// AVX-512 version widens each block slice to double once for all the heads.
#pragma once

#include <cstdint>

namespace dsv4::kernels {

// p: heads rows of n probabilities, row h at p + h * p_stride; v: n bf16 rows of d
// values; out: heads rows of d doubles.
using AttentionPvFn = void (*)(const float* p, int64_t p_stride, int64_t heads,
                               const uint16_t* const* v, int64_t n, int64_t d, double* out);

void AttentionPvRef(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
                    int64_t n, int64_t d, double* out);
AttentionPvFn AttentionPvAvx2();    // nullptr without AVX2
AttentionPvFn AttentionPvAvx512();  // nullptr without AVX-512 F
// The best available (DSV4_ISA=ref forces the reference, DSV4_ISA=avx2 caps at AVX2).
AttentionPvFn ActiveAttentionPv();

// The fast mode's P·V (kernels/precision.h): the same block sums accumulated in fp32, as
// the fast mode accumulates every other product. out[h][i] = Σ_u p[h][u] · v[u][i] over
// the block's keys in order, each step one fused multiply-add in fp32 (a bf16-rounded
// probability times a bf16 value is exact in fp32, so a step rounds once). Every version
// is bit-identical to the reference (the same steps in the same order per dimension);
// half the multiply-adds per step of the f64 kernels, which a 512-token prefill spent
// ~8% of its time in. Precise mode keeps the f64 sums.
using AttentionPvF32Fn = void (*)(const float* p, int64_t p_stride, int64_t heads,
                                  const uint16_t* const* v, int64_t n, int64_t d, float* out);

void AttentionPvF32Ref(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
                       int64_t n, int64_t d, float* out);
AttentionPvF32Fn AttentionPvF32Avx2();    // nullptr without AVX2 and FMA
AttentionPvF32Fn AttentionPvF32Avx512();  // nullptr without AVX-512 F
// Chosen like ActiveAttentionPv.
AttentionPvF32Fn ActiveAttentionPvF32();

// The fast mode's P·V where the products run in tile order (kernels/tile_order.h: AMX
// present and DSV4_TILE_ORDER not 0): the tile unit's arithmetic over the keys. The
// block's keys are taken 32 at a time in order (the last group padded with zero keys), and
// for each group, per head h and dimension i,
//   E = O = 0;  for j in 0..15:  E = fma(p[2j], v[2j][i], E);  O = fma(p[2j+1], v[2j+1][i], O)
//   out = out + (E + O)                                      (out starting at +0)
// (p and v the group's probabilities and value rows) with subnormal inputs and results
// flushed to zero. On AMX a 64-key block for 64 heads of 512 dims is 256 tile products
// instead of 2M fused multiply-adds (~8% of a 512-token prefill chunk's samples).
void AttentionPvTileRef(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
                        int64_t n, int64_t d, float* out);
AttentionPvF32Fn AttentionPvTileAmx();  // nullptr without AMX (AmxActive())
// The fast mode's P·V: AttentionPvTileAmx where tile order is active, else
// ActiveAttentionPvF32.
AttentionPvF32Fn ActiveAttentionPvFast();

}  // namespace dsv4::kernels
