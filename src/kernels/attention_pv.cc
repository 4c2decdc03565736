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

AttentionPvF32Fn ActiveAttentionPvF32() {
  static const AttentionPvF32Fn fn = [] {
    const char* isa = std::getenv("DSV4_ISA");
    if (isa && std::strcmp(isa, "ref") == 0) return AttentionPvF32Fn(AttentionPvF32Ref);
    const AttentionPvF32Fn avx512 = AttentionPvF32Avx512();
    if (avx512 && !(isa && std::strcmp(isa, "avx2") == 0)) return avx512;
    const AttentionPvF32Fn avx2 = AttentionPvF32Avx2();
    return avx2 ? avx2 : AttentionPvF32Fn(AttentionPvF32Ref);
  }();
  return fn;
}

}  // namespace dsv4::kernels
