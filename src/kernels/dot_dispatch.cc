// Chooses the dot kernels once per process.
#include <cstdlib>
#include <cstring>

#include "kernels/dot.h"

namespace dsv4::kernels {

const DotKernels& ActiveDotKernels() {
  static const DotKernels* active = [] {
    const char* isa = std::getenv("DSV4_ISA");
    if (isa && std::strcmp(isa, "ref") == 0) return &RefDotKernels();
    if (const DotKernels* avx2 = Avx2DotKernels()) return avx2;
    return &RefDotKernels();
  }();
  return *active;
}

}  // namespace dsv4::kernels
