// exp(x) for the fast mode's softmax and SwiGLU (kernels/precision.h; precise mode keeps
// exp in double): the same fp32 operations in the scalar reference (FastExp, below) and
// in the vector versions (kernels/cpu/fast_exp_avx2.h, fast_exp_avx512.h), so every path
// gives the same bits. Cody-Waite reduction x = n ln2 + r (n = rint(x log2e), ln2 in two
// parts), the classic minimax polynomial of single-precision expf in r, times 2^n; within
// 1 ulp of exp over [-86, 88] (0.98 at worst, fast_exp_test). Below -86 (exp under
// 2^-124) the result is 0, so no result is subnormal; above 88 it is +inf. Every step is
// one IEEE operation (fused multiply-adds written as such; the build turns contraction off).
#pragma once

namespace dsv4::kernels {

// Out of line, in a translation unit built for any x86-64 (an inline definition here
// could be merged with a copy compiled for AVX-512).
float FastExp(float x);

namespace fast_exp {
constexpr float kMax = 88.0f, kMin = -86.0f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;  // ln 2 = kLn2Hi + kLn2Lo
// y = ((((p0 r + p1) r + p2) r + p3) r + p4) r + p5, then exp(r) ~ (y r^2 + r) + 1.
constexpr float kPoly[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                            4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
}  // namespace fast_exp

}  // namespace dsv4::kernels
