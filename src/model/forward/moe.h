// Mixture-of-experts FFN (spec §7): sqrt-softplus router (hash or biased top-k
// selection), SwiGLU experts with the clamp, shared expert, fp32 combination.
#pragma once

#include <cstdint>

#include "model/config.h"
#include "model/forward/weights.h"

namespace dsv4 {

// y: [T, D] (after ffn_norm), tokens: [T] input ids -> out: [T, D] bf16. All T rows go
// through each expert's weights in one pass.
void MoeForward(const MoeWeights& w, const ModelConfig& c, const float* y, const int32_t* tokens,
                int64_t T, bool act_quant, float* out);

// Routing of one token: expert ids and their weights (normalised, times the routed
// scaling factor). logits: [E] router logits in fp32.
void Route(const MoeWeights& w, const ModelConfig& c, const float* logits, int32_t token,
           int32_t* ids, float* weights);

}  // namespace dsv4
