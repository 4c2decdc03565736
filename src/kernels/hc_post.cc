#include "kernels/hc_post.h"

#include "kernels/isa.h"

namespace dsv4::kernels {

HcPostRowFn ActiveHcPostRow() {
  static const HcPostRowFn fn = ChooseByIsa<HcPostRowFn>(HcPostRowRef, HcPostRowAvx512(), nullptr);
  return fn;
}

}  // namespace dsv4::kernels
