// Per-token cost figures of a checkpoint (spec §13), reported by `dsv4 inspect`.
#pragma once

#include <cstdint>

#include "model/checkpoint.h"
#include "model/config.h"

namespace dsv4 {

// Bytes of weights (stored dtypes, scales included) one decoded token reads at batch 1:
// one embedding row, every trunk tensor except the routed experts, k/E of the routed
// experts' bytes per layer, one row of tid2eid; the MTP block is excluded.
int64_t WeightBytesPerToken(const Checkpoint& checkpoint, const ModelConfig& config);

// Cache bytes per token of context as this engine stores them (bf16 entries):
// compressed main KV (head_dim per ratio tokens) and indexer keys, trunk layers.
double KvBytesPerToken(const ModelConfig& config);

// Cache bytes of one sequence of n tokens: compressed entries, indexer keys and the
// sliding windows of the trunk layers (compressor partial state excluded).
int64_t KvBytesAt(const ModelConfig& config, int64_t n);

// Cache bytes one decoded token reads at context n: each layer's window, its compressed
// entries (HCA: all; CSA: top-k) and, for CSA layers, every indexer key it scores.
int64_t KvReadBytesPerToken(const ModelConfig& config, int64_t n);

// Multiply-accumulates of one token through the trunk's weight matrices (routed experts:
// num_experts_per_tok of them; lm head excluded) plus its attention over context n.
double MacsPerToken(const ModelConfig& config, int64_t n);

}  // namespace dsv4
