// Manifold-constrained hyper-connections (spec §4): the residual stream is hc copies
// of the hidden state; each sub-layer reads a mix of them (pre) and writes back through
// a learned doubly-stochastic mixing matrix (post, comb).
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/forward/weights.h"

namespace dsv4 {

// Mixing coefficients of one sub-layer for T tokens.
struct HcMix {
  std::vector<float> post;  // [T, hc]
  std::vector<float> comb;  // [T, hc, hc], comb[j][k]: source stream j -> destination k
};

// x: [T, hc, D] (bf16 values) -> y: [T, D] bf16 = Σ_j pre_j · x_j; fills mix.
void HcPre(const float* x, int64_t T, const HcMixerWeights& w, const ModelConfig& c,
           float* y, HcMix* mix);

// x: [T, hc, D] residual, f: [T, D] sub-layer output -> out: [T, hc, D] bf16 with
// out_k = post_k · f + Σ_j comb[j][k] · x_j. out may alias x.
void HcPost(const float* f, const float* x, int64_t T, const HcMix& mix, const ModelConfig& c,
            float* out);

// x: [T, hc, D] -> y: [T, D] bf16 = Σ_j (σ(μ_j·a + b_j) + ε) · x_j (spec §4.3).
void HcHead(const float* x, int64_t T, const HcHeadWeights& w, const ModelConfig& c, float* y);

// The Sinkhorn normalisation of one hc×hc matrix in place (spec §4.1 step 4).
void SinkhornNormalize(float* comb, int64_t hc, int64_t iters, float eps);

}  // namespace dsv4
