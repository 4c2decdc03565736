// One attention sub-layer (spec §6) for a chunk of T consecutive tokens of one
// sequence: query and KV paths, compressor and indexer updates, sparse attention with
// the sink over window + compressed entries, inverse RoPE, grouped output projection.
#pragma once

#include <cstdint>

#include "model/config.h"
#include "model/forward/batch_rows.h"
#include "model/forward/forward_options.h"
#include "model/forward/ops.h"
#include "model/forward/state.h"
#include "model/forward/weights.h"

namespace dsv4 {

// y: [N, D] attention inputs (after attn_norm) of all rows of a batch -> out: [N, D].
// Each run of rows in `segs` is one sequence's chunk; its LayerState (window ring,
// compressed entries, compressor/indexer state) is read and updated.
void AttentionForward(const AttentionWeights& w, const ModelConfig& c, const RopeTable& rope,
                      const float* y, const std::vector<LayerRows>& segs,
                      const ForwardOptions& options, float* out);

}  // namespace dsv4
