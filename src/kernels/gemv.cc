#include "kernels/gemv.h"

#include <cstring>

#include "kernels/dot.h"

namespace dsv4::kernels {

Bf16GemvFn ActiveBf16Gemv() {
  // Only alongside the avx512 packed kernels, whose arithmetic it reproduces.
  static const Bf16GemvFn fn = [] {
    return std::strcmp(ActiveDotKernels().isa, "avx512") == 0 ? Bf16GemvAvx512() : nullptr;
  }();
  return fn;
}

}  // namespace dsv4::kernels
