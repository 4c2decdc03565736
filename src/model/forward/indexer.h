// The lightning indexer of CSA layers (spec §6.7): scores every visible compressed
// entry for each query and keeps the top-k.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/forward/ops.h"
#include "model/forward/state.h"
#include "model/forward/weights.h"

namespace dsv4 {

// x: [T, D] attention input, cq: [T, q_r] the query latent, positions pos0... Updates the
// indexer's compressor (appending keys to state->index_keys) and returns, per query t,
// the selected compressed-entry indices (best score first, ties to the lower index:
// the reference's top-k order), at most index_topk of the
// floor((pos+1)/4) visible ones.
std::vector<std::vector<int32_t>> IndexerSelect(const IndexerWeights& w, const ModelConfig& c,
                                                const RopeTable& rope, const float* x,
                                                const float* cq, int64_t T, int64_t pos0,
                                                bool act_quant, LayerState* state);

}  // namespace dsv4
