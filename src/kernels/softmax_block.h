// One 64-key block of sparse attention's online softmax (spec §6.9) in the fast mode
// (kernels/precision.h), for several heads that scored the same keys. Precise mode keeps
// the reference's exp in double and f64 sums (model/forward/attention.cc); the fast mode
// defines its own, vectorisable arithmetic here, the same on every path and in every
// batch (so a row's bits never depend on its batch):
//   z_u = score_u · scale (fp32);  m' = max(m, max_u z_u)
//   alpha = FastExp(m - m'),  e_u = FastExp(z_u - m'),  p_u = bf16(e_u)   (kernels/fast_exp.h)
//   sum = Σ_u e_u in fp32: key u into lane u % 16 (in key order), then the 16 lanes
//         pairwise: lane l + 8 into l, l + 4, l + 2, l + 1 (SoftmaxLaneSum)
// A head whose m' is -inf (no finite score yet) is not live: its p row is zeroed and its
// m, alpha and sum are left alone. Scalar (the reference), AVX2 and AVX-512 versions are
// bit-identical (a test checks it). In a 512-token prefill chunk of the V4-Flash-shaped
// checkpoint the scalar loops with exp in double were ~9% of the samples.
#pragma once

#include <cstdint>

namespace dsv4::kernels {

// scores: heads rows of n dot products (row h at scores + h * n); m, alpha, sum, live:
// per head; p: heads rows of n probabilities, row h at p + h * p_stride (p_stride >= n;
// entries n.. untouched unless the head is not live, when p_stride entries are zeroed).
using SoftmaxBlockFn = void (*)(const float* scores, int64_t heads, int64_t n, float scale, float* m, float* p,
                                int64_t p_stride, float* alpha, float* sum, uint8_t* live);

void SoftmaxBlockRef(const float* scores, int64_t heads, int64_t n, float scale, float* m, float* p,
                     int64_t p_stride, float* alpha, float* sum, uint8_t* live);
// One head's step after its block maximum, shared by every version: m' = max(*m,
// block_max) into *m_new, *live; a head not live gets its p row (p_stride entries) zeroed
// and false back, a live one its *alpha. (Out of line: the versions' translation units are
// built for different ISAs.)
bool SoftmaxHeadStart(float block_max, const float* m, float* p_row, int64_t p_stride, float* alpha, uint8_t* live,
                      float* m_new);
SoftmaxBlockFn SoftmaxBlockAvx2();    // nullptr without AVX2 and FMA
SoftmaxBlockFn SoftmaxBlockAvx512();  // nullptr without AVX-512 F
// The best available (DSV4_ISA=ref forces the reference, DSV4_ISA=avx2 caps at AVX2).
SoftmaxBlockFn ActiveSoftmaxBlock();

}  // namespace dsv4::kernels
