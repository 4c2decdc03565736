// Decode (T = 1) GEMV over bf16 weight rows, the BF16 head's 1.06 GB per token on the
// V4-Flash-shaped model: out[i] = Σ_k x[k] · w[i·K + k] for rows i in [0, rows), with x
// bf16 activations in natural order (PackedFormat::kBf16) and K a multiple of 32.
//
// The AVX-512 version walks four streams a quarter of the rows apart, each front to back
// with a software prefetch ahead (gemv_avx512.cc has the measurements: far-apart streams
// read ~60% faster than adjacent rows here). Its arithmetic is exactly bf16_rows_packed's
// with one activation row and one weight row (a single vdpbf16ps accumulator over k
// ascending, then the lane sum), so a sequence's logits are bit-identical whether it decodes alone (T = 1) or in
// a batch (the tiles) — the batch tests depend on that.
#pragma once

#include <cstdint>

namespace dsv4::kernels {

using Bf16GemvFn = void (*)(const uint16_t* x, const uint16_t* w, int64_t K, int64_t rows,
                            float* out);

// Scalar reference: fp32 products summed in k order (differs from the SIMD version only
// in fp32 summation order).
void Bf16GemvRef(const uint16_t* x, const uint16_t* w, int64_t K, int64_t rows, float* out);
// AVX-512 BF16 version, or nullptr where the CPU (or build) lacks it.
Bf16GemvFn Bf16GemvAvx512();
// The version Linear uses at T = 1: AVX-512 where the active dot-kernel set is avx512
// (DSV4_ISA caps it), else nullptr (Linear keeps its general path).
Bf16GemvFn ActiveBf16Gemv();

}  // namespace dsv4::kernels
