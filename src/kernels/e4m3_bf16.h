// Widening of FP8 cache entries (spec §13.3) to the bf16 rows attention reads: each
// e4m3 code times its block's power-of-two scale, rounded to bf16 (exact for the values
// the encoder stores). At 1M context an HCA layer widens its 8,192 entries (3.7M codes)
// every decode step. One scalar reference, one AVX-512 version; a test checks they agree
// bit for bit on every code.
#pragma once

#include <cstdint>

namespace dsv4::kernels {

// out[i] = bf16 bits of fp32(E4m3ToFloat(codes[i]) · scale), NaN codes to quiet NaN.
using E4m3ToBf16Fn = void (*)(const uint8_t* codes, int64_t n, float scale, uint16_t* out);

void E4m3ToBf16Ref(const uint8_t* codes, int64_t n, float scale, uint16_t* out);
E4m3ToBf16Fn E4m3ToBf16Avx512();  // nullptr without AVX-512 F/BW
// The best available (DSV4_ISA=ref or avx2 gives the reference).
E4m3ToBf16Fn ActiveE4m3ToBf16();

}  // namespace dsv4::kernels
