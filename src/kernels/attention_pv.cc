#include "kernels/attention_pv.h"

#include <cstdlib>
#include <cstring>

namespace dsv4::kernels {

AttentionPvFn ActiveAttentionPv() {
  // Bit-identical to the reference, so precise mode uses it too.
  static const AttentionPvFn fn = [] {
    const char* isa = std::getenv("DSV4_ISA");
    if (isa && std::strcmp(isa, "ref") == 0) return AttentionPvFn(AttentionPvRef);
    const AttentionPvFn avx512 = AttentionPvAvx512();
    if (avx512 && !(isa && std::strcmp(isa, "avx2") == 0)) return avx512;
    const AttentionPvFn avx2 = AttentionPvAvx2();
    return avx2 ? avx2 : AttentionPvFn(AttentionPvRef);
  }();
  return fn;
}

}  // namespace dsv4::kernels
