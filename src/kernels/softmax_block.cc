#include "kernels/softmax_block.h"

#include "kernels/isa.h"

namespace dsv4::kernels {

SoftmaxBlockFn ActiveSoftmaxBlock() {
  static const SoftmaxBlockFn fn = ChooseByIsa<SoftmaxBlockFn>(SoftmaxBlockRef, SoftmaxBlockAvx512(), SoftmaxBlockAvx2());
  return fn;
}

}  // namespace dsv4::kernels
