#include "kernels/attention_pv.h"

#include "kernels/isa.h"
#include "kernels/tile_order.h"

namespace dsv4::kernels {

AttentionPvFn ActiveAttentionPv() {
  // Bit-identical to the reference, so precise mode uses it too.
  static const AttentionPvFn fn = ChooseByIsa<AttentionPvFn>(AttentionPvRef, AttentionPvAvx512(), AttentionPvAvx2());
  return fn;
}

AttentionPvF32Fn ActiveAttentionPvF32() {
  static const AttentionPvF32Fn fn =
      ChooseByIsa<AttentionPvF32Fn>(AttentionPvF32Ref, AttentionPvF32Avx512(), AttentionPvF32Avx2());
  return fn;
}

AttentionPvF32Fn ActiveAttentionPvFast() {
  static const AttentionPvF32Fn fn = TileOrderActive() && AttentionPvTileAmx() ? AttentionPvTileAmx() : ActiveAttentionPvF32();
  return fn;
}

}  // namespace dsv4::kernels
