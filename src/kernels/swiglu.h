// The experts' SwiGLU in the fast mode (kernels/precision.h; precise mode keeps the
// reference's exp in double, model/forward/moe.cc). For row t of T and column i of I:
//   g' = min(g, lim), u' = clamp(u, -lim, lim)     (with lim > 0; else g, u as they are)
//   h = (g' / (1 + FastExp(-g'))) · u'              (fp32, kernels/fast_exp.h)
//   g[t][i] = bf16(w[t] · h)                        (w: row_weights, or h alone without)
// The scalar reference, AVX2 and AVX-512 versions are bit-identical (a test checks it).
// With exp in double it was ~3.5% of a 512-token prefill chunk of the V4-Flash-shaped
// checkpoint (its 2048 columns for each of a row's 6 experts and the shared one).
#pragma once

#include <cstdint>

namespace dsv4::kernels {

// g, u: [T, I] (g overwritten with the result); row_weights: [T] or nullptr.
using SwiGluFn = void (*)(float* g, const float* u, int64_t T, int64_t I, const float* row_weights, float lim);

void SwiGluRef(float* g, const float* u, int64_t T, int64_t I, const float* row_weights, float lim);
SwiGluFn SwiGluAvx2();    // nullptr without AVX2 and FMA
SwiGluFn SwiGluAvx512();  // nullptr without AVX-512 F
// The best available (DSV4_ISA=ref forces the reference, DSV4_ISA=avx2 caps at AVX2).
SwiGluFn ActiveSwiGlu();

}  // namespace dsv4::kernels
