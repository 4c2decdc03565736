// The x86 kernel sets' accessors on CPUs without them (ARM and other non-x86 builds;
// src/kernels/CMakeLists.txt): each answers "not on this CPU" as the x86 files do on an
// x86 CPU that lacks the instructions, so dispatch (isa.h ChooseByIsa, AmxActive,
// TileOrderActive) takes the scalar references. The entry points that only run behind
// AmxActive() / TileOrderActive() fail loudly if reached.
#include <memory>
#include <vector>

#include "core/status.h"
#include "kernels/act_quant.h"
#include "kernels/attention_pv.h"
#include "kernels/attention_scores.h"
#include "kernels/bf16_row_blocks.h"
#include "kernels/dot.h"
#include "kernels/e4m3_bf16.h"
#include "kernels/gemv.h"
#include "kernels/hc_mix.h"
#include "kernels/indexer_score.h"
#include "kernels/linear_amx.h"
#include "kernels/softmax_block.h"
#include "kernels/swiglu.h"
#include "kernels/tile_order.h"

namespace dsv4::kernels {

const DotKernels* Avx2DotKernels() { return nullptr; }
const DotKernels* Avx512DotKernels() { return nullptr; }
AttentionPvFn AttentionPvAvx2() { return nullptr; }
AttentionPvFn AttentionPvAvx512() { return nullptr; }
AttentionPvF32Fn AttentionPvF32Avx2() { return nullptr; }
AttentionPvF32Fn AttentionPvF32Avx512() { return nullptr; }
AttentionPvF32Fn AttentionPvTileAmx() { return nullptr; }
std::unique_ptr<TileScores> NewTileScoresAmx() { return nullptr; }
Bf16BlocksFn Bf16BlocksAvx512() { return nullptr; }
Bf16GemvFn Bf16GemvAvx512() { return nullptr; }
E4m3ToBf16Fn E4m3ToBf16Avx512() { return nullptr; }
HcPostRowFn HcPostRowAvx512() { return nullptr; }
HcSumRowFn HcSumRowAvx512() { return nullptr; }
IndexerScoreFn IndexerScoreFp4Avx2() { return nullptr; }
IndexerScoreFn IndexerScoreFp4Avx512() { return nullptr; }
QuantizeActFp8Fn QuantizeActFp8Avx512() { return nullptr; }
SoftmaxBlockFn SoftmaxBlockAvx2() { return nullptr; }
SoftmaxBlockFn SoftmaxBlockAvx512() { return nullptr; }
SwiGluFn SwiGluAvx2() { return nullptr; }
SwiGluFn SwiGluAvx512() { return nullptr; }

bool AmxActive() { return false; }
bool TileOrderActive() { return false; }

void LinearAmx(const uint16_t*, int64_t, PackedFormat, const WeightMatrix&, int64_t, int64_t, float*, int64_t, bool,
               bool, std::vector<int64_t>*) {
  DSV4_CHECK(false && "LinearAmx needs AMX (AmxActive() is false on this CPU)");
}
void LinearRowBlocksAmx(const uint16_t*, int64_t, const WeightMatrix&, int64_t, int64_t, float*, int64_t, bool) {
  DSV4_CHECK(false && "LinearRowBlocksAmx needs AMX (AmxActive() is false on this CPU)");
}
void SplitTileOrderActs(const uint16_t*, int64_t, float*) {
  DSV4_CHECK(false && "tile order needs AMX (TileOrderActive() is false on this CPU)");
}
void E4m3TileOrderRows(const float* const*, int, const uint8_t*, int64_t, const uint8_t* const*, int, int64_t,
                       float*) {
  DSV4_CHECK(false && "tile order needs AMX (TileOrderActive() is false on this CPU)");
}
void E2m1TileOrderRows(const float* const*, int, const uint8_t*, int64_t, const uint8_t* const*, int, int64_t,
                       float*) {
  DSV4_CHECK(false && "tile order needs AMX (TileOrderActive() is false on this CPU)");
}

}  // namespace dsv4::kernels
