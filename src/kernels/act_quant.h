// SIMD versions of QuantizeActFp8 (linear.h): FP8 activation quantisation of one row,
// bit-identical to the scalar reference QuantizeActFp8Ref (same block amax, same
// power-of-two scale, x / s rounded to the e4m3 grid with the same saturation, NaN
// handling and signed zeros; act_quant_test checks it on edge values). Decode quantises
// ~50 activation rows a step on the engine thread alone, so this is serial time.
#pragma once

#include <cstdint>

namespace dsv4::kernels {

using QuantizeActFp8Fn = void (*)(const float* x, int64_t K, float* q, float* s);

// AVX-512F version, or nullptr where the CPU (or build) lacks it.
QuantizeActFp8Fn QuantizeActFp8Avx512();

}  // namespace dsv4::kernels
