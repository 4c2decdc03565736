// Gated-pooling KV compressor (spec §6.6): folds every `ratio` tokens into one entry,
// overlapping adjacent blocks when ratio is 4. Used for the attention KV of CSA/HCA
// layers (post-processing: RMSNorm, RoPE, Q8_64) and for the indexer keys of CSA
// layers (RMSNorm, RoPE, Hadamard, Q4_32).
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/forward/ops.h"
#include "model/forward/state.h"
#include "model/forward/weights.h"

namespace dsv4 {

enum class CompressorKind { kAttention, kIndexer };

// The fp32 projections of x: [T, D] (all rows of a batch at once, so the weights are read
// once): kv, score: [T, coff·dim].
void CompressorProject(const CompressorWeights& w, const float* x, int64_t T,
                       std::vector<float>* kv, std::vector<float>* score);

// Feeds one sequence's projected rows (kv, score: [T, coff·dim] at positions
// pos0..pos0+T-1) through its compressor state and appends every completed entry
// ([dim] bf16-valued floats, on the storage grid when act_quant) to `entries`.
void CompressorConsume(const CompressorWeights& w, CompressorKind kind, const float* kv,
                       const float* score, int64_t T, int64_t pos0, const RopeTable& rope,
                       const ModelConfig& c, bool act_quant, CompressorState* state,
                       std::vector<float>* entries);

}  // namespace dsv4
