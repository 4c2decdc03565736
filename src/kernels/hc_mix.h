// The hyper-connection mixes of one token (spec §5, model/forward/hyper_connection.cc),
// in the reference's arithmetic: fp32 products, sums over the hc streams in double from 0
// in ascending stream order, one rounding to fp32, bf16 rounding (RNE, NaN kept quiet).
//   post mix (HcPost):        out[k][d] = bf16(post[k] · f[d] + fp32(Σ_j fp32(comb[j][k] · x[j][d])))
//                             (an fp32 multiply, then an fp32 add)
//   weighted sum (HcPre, HcHead): out[d] = bf16(fp32(Σ_j fp32(w[j] · x[j][d])))
// The SIMD versions give the same bits (a test checks it); as scalar loops the post mix
// was ~3% of a 512-token prefill, and both ran on the engine thread alone at batch 1.
#pragma once

#include <cstdint>

namespace dsv4::kernels {

// f: [D]; x: [hc, D] (the token's streams); comb: [hc, hc] (comb[j * hc + k]); post: [hc];
// out: [hc, D].
using HcPostRowFn = void (*)(const float* f, const float* x, const float* comb, const float* post,
                             int64_t hc, int64_t D, float* out);

void HcPostRowRef(const float* f, const float* x, const float* comb, const float* post, int64_t hc,
                  int64_t D, float* out);
HcPostRowFn HcPostRowAvx512();  // nullptr without AVX-512 F
// The best available (DSV4_ISA caps it, kernels/isa.h); bit-identical, so every mode uses it.
HcPostRowFn ActiveHcPostRow();

// x: [hc, D]; w: [hc]; out: [D].
using HcSumRowFn = void (*)(const float* x, const float* w, int64_t hc, int64_t D, float* out);

void HcSumRowRef(const float* x, const float* w, int64_t hc, int64_t D, float* out);
HcSumRowFn HcSumRowAvx512();  // nullptr without AVX-512 F
HcSumRowFn ActiveHcSumRow();  // as ActiveHcPostRow

}  // namespace dsv4::kernels
