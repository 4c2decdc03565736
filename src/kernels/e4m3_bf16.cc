#include "kernels/e4m3_bf16.h"

#include <cstdlib>
#include <cstring>

namespace dsv4::kernels {

E4m3ToBf16Fn ActiveE4m3ToBf16() {
  // Bit-identical to the reference, so precise mode uses it too.
  static const E4m3ToBf16Fn fn = [] {
    const char* isa = std::getenv("DSV4_ISA");
    const bool capped = isa && (std::strcmp(isa, "ref") == 0 || std::strcmp(isa, "avx2") == 0);
    const E4m3ToBf16Fn avx512 = capped ? nullptr : E4m3ToBf16Avx512();
    return avx512 ? avx512 : E4m3ToBf16Fn(E4m3ToBf16Ref);
  }();
  return fn;
}

}  // namespace dsv4::kernels
