#include "kernels/swiglu.h"

#include "kernels/isa.h"

namespace dsv4::kernels {

SwiGluFn ActiveSwiGlu() {
  static const SwiGluFn fn = ChooseByIsa<SwiGluFn>(SwiGluRef, SwiGluAvx512(), SwiGluAvx2());
  return fn;
}

}  // namespace dsv4::kernels
