// The hyper-connection post mix of one token (spec §5, HcPost in
// model/forward/hyper_connection.cc): for each stream k and dimension d,
//   out[k][d] = bf16(post[k] · f[d] + fp32(Σ_j fp32(comb[j][k] · x[j][d])))
// with the j sum in double from 0 in ascending j, fp32 products, an fp32 multiply then an
// fp32 add, rounded to bf16 (RNE, NaN kept quiet) — the reference's arithmetic. The SIMD
// version gives the same bits (a test checks it); it was ~3% of a 512-token prefill as
// a scalar loop.
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

}  // namespace dsv4::kernels
