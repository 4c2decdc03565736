// One attention sub-layer (spec §6) for a chunk of T consecutive tokens of one
// sequence: query and KV paths, compressor and indexer updates, sparse attention with
// the sink over window + compressed entries, inverse RoPE, grouped output projection.
#pragma once

#include <cstdint>

#include "model/config.h"
#include "model/forward/forward_options.h"
#include "model/forward/ops.h"
#include "model/forward/state.h"
#include "model/forward/weights.h"

namespace dsv4 {

struct LayerRope {
  const RopeTable* table;  // this layer's table: θ_w without YaRN (ratio 0) or θ_c + YaRN
};

// y: [T, D] attention input (after attn_norm) at positions pos0..pos0+T-1 -> out: [T, D].
// Reads and updates `state` (window ring, compressed entries, compressor/indexer state).
void AttentionForward(const AttentionWeights& w, const ModelConfig& c, const RopeTable& rope,
                      const float* y, int64_t T, int64_t pos0, const ForwardOptions& options,
                      LayerState* state, float* out);

}  // namespace dsv4
