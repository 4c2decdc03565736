// The instruction sets the kernels may use: the best this CPU has, capped by the
// DSV4_ISA environment variable (read once): "ref" forces the scalar references, "avx2"
// caps at AVX2, "avx512" at AVX-512 without AMX (to compare versions on one machine). One
// choice for every dispatcher.
#pragma once

namespace dsv4::kernels {

bool IsaAllowsAvx2();    // false with DSV4_ISA=ref
bool IsaAllowsAvx512();  // false with DSV4_ISA=ref or avx2
bool IsaAllowsAmx();     // false with DSV4_ISA=ref, avx2 or avx512

// The best of the versions given (nullptr / null = not on this CPU or not built) that
// DSV4_ISA allows; the reference otherwise.
template <typename T>
T ChooseByIsa(T ref, T avx512, T avx2) {
  if (avx512 && IsaAllowsAvx512()) return avx512;
  if (avx2 && IsaAllowsAvx2()) return avx2;
  return ref;
}

}  // namespace dsv4::kernels
