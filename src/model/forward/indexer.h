// The lightning indexer of CSA layers (spec §6.7): scores every visible compressed
// entry for each query and keeps the top-k.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/forward/batch_rows.h"
#include "model/forward/ops.h"
#include "model/forward/weights.h"

namespace dsv4 {

// x: [N, D] attention input and cq: [N, q_r] query latents of all rows of the batch.
// Updates each sequence's indexer compressor (appending keys to its index_keys) and
// sets (*selected)[row], for every row, to its selected compressed-entry indices (best
// score first, ties to the lower index: the reference's top-k order), at most
// index_topk of the floor((pos+1)/4) visible ones. *selected is the caller's, reused
// from step to step (its vectors keep their capacity).
void IndexerSelect(const IndexerWeights& w, const ModelConfig& c, const RopeTable& rope, const float* x,
                   const float* cq, const std::vector<LayerRows>& segs, bool act_quant,
                   std::vector<std::vector<int32_t>>* selected);

}  // namespace dsv4
