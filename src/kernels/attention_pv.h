// The P·V product of sparse attention's 64-key blocks (spec §6.9): out[i] = Σ_u p[u] ·
// v[u][i] over the block's keys in order, each product and the sum in double, as the
// reference kernel's f64 block sums. p[u] is a bf16-rounded probability and v[u] a bf16
// row, so every product is exact in double: the AVX2 version adds them key by key in the
// same order with fused multiply-adds (bit-identical to the scalar reference; a test
// checks it). This is the per-key cost of HCA layers, whose decode reads
// n/128 entries.
#pragma once

#include <cstdint>

namespace dsv4::kernels {

using AttentionPvFn = void (*)(const float* p, const uint16_t* const* v, int64_t n, int64_t d,
                               double* out);

void AttentionPvRef(const float* p, const uint16_t* const* v, int64_t n, int64_t d, double* out);
AttentionPvFn AttentionPvAvx2();  // nullptr without AVX2
AttentionPvFn ActiveAttentionPv();  // DSV4_ISA=ref forces the reference

}  // namespace dsv4::kernels
