// Chooses the dot kernels: the best SIMD set for this CPU, or the scalar reference in
// precise mode (or with DSV4_ISA=ref).
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/dot.h"
#include "kernels/precision.h"

namespace dsv4::kernels {
namespace {

std::atomic<bool>& PreciseFlag() {
  static std::atomic<bool> flag([] {
    const char* env = std::getenv("DSV4_PRECISE");
    return env != nullptr && std::strcmp(env, "0") != 0;
  }());
  return flag;
}

const DotKernels& FastDotKernels() {
  static const DotKernels* fast = [] {
    const char* isa = std::getenv("DSV4_ISA");
    if (isa && std::strcmp(isa, "ref") == 0) return &RefDotKernels();
    const bool cap_avx2 = isa && std::strcmp(isa, "avx2") == 0;
    if (const DotKernels* avx512 = Avx512DotKernels(); avx512 && !cap_avx2) return avx512;
    if (const DotKernels* avx2 = Avx2DotKernels()) return avx2;
    return &RefDotKernels();
  }();
  return *fast;
}

}  // namespace

void SetPreciseMath(bool precise) { PreciseFlag().store(precise); }
bool PreciseMath() { return PreciseFlag().load(std::memory_order_relaxed); }

const DotKernels& ActiveDotKernels() {
  return PreciseMath() ? RefDotKernels() : FastDotKernels();
}

}  // namespace dsv4::kernels
