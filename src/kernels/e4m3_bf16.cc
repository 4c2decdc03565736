#include "kernels/e4m3_bf16.h"

#include "kernels/isa.h"

namespace dsv4::kernels {

E4m3ToBf16Fn ActiveE4m3ToBf16() {
  // Bit-identical to the reference, so precise mode uses it too.
  static const E4m3ToBf16Fn fn = ChooseByIsa<E4m3ToBf16Fn>(E4m3ToBf16Ref, E4m3ToBf16Avx512(), nullptr);
  return fn;
}

}  // namespace dsv4::kernels
