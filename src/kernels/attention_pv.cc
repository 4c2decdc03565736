#include "kernels/attention_pv.h"

#include <cstdlib>
#include <cstring>

namespace dsv4::kernels {
namespace {

// The best of the versions available (nullptr = not on this CPU): DSV4_ISA=ref forces the
// reference, DSV4_ISA=avx2 caps at AVX2.
template <typename Fn>
Fn Choose(Fn ref, Fn avx512, Fn avx2) {
  const char* isa = std::getenv("DSV4_ISA");
  if (isa && std::strcmp(isa, "ref") == 0) return ref;
  if (avx512 && !(isa && std::strcmp(isa, "avx2") == 0)) return avx512;
  return avx2 ? avx2 : ref;
}

}  // namespace

AttentionPvFn ActiveAttentionPv() {
  // Bit-identical to the reference, so precise mode uses it too.
  static const AttentionPvFn fn = Choose<AttentionPvFn>(AttentionPvRef, AttentionPvAvx512(), AttentionPvAvx2());
  return fn;
}

AttentionPvF32Fn ActiveAttentionPvF32() {
  static const AttentionPvF32Fn fn =
      Choose<AttentionPvF32Fn>(AttentionPvF32Ref, AttentionPvF32Avx512(), AttentionPvF32Avx2());
  return fn;
}

}  // namespace dsv4::kernels
