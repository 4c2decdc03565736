#include "kernels/hc_mix.h"

#include "kernels/isa.h"

namespace dsv4::kernels {

HcPostRowFn ActiveHcPostRow() {
  static const HcPostRowFn fn = ChooseByIsa<HcPostRowFn>(HcPostRowRef, HcPostRowAvx512(), nullptr);
  return fn;
}

HcSumRowFn ActiveHcSumRow() {
  static const HcSumRowFn fn = ChooseByIsa<HcSumRowFn>(HcSumRowRef, HcSumRowAvx512(), nullptr);
  return fn;
}

}  // namespace dsv4::kernels
