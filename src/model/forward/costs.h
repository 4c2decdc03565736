// Per-token cost figures of a checkpoint (spec §13), reported by `dsv4 inspect`.
#pragma once

#include <cstdint>

#include "model/checkpoint.h"
#include "model/config.h"
#include "model/forward/state.h"

namespace dsv4 {

// Bytes of weights (stored dtypes, scales included) one decoded token reads at batch 1:
// one embedding row, every trunk tensor except the routed experts, k/E of the routed
// experts' bytes per layer, one row of tid2eid; the MTP block is excluded.
int64_t WeightBytesPerToken(const Checkpoint& checkpoint, const ModelConfig& config);

// Amortised cache bytes each further token of context adds, as this engine stores them
// (spec §13.2; compact: FP8 entries of Fp8EntryBytes, FP4 indexer keys): compressed main
// KV (one entry per ratio tokens) and indexer keys (one per 4), trunk layers. Excludes
// the constant window and compressor state.
double KvBytesPerToken(const ModelConfig& config, KvStorage storage = KvStorage::kCompact);

// Everything one sequence of n tokens holds (SequenceState::bytes() of a trunk-only
// state): windows, compressed entries, indexer keys and compressor partial blocks.
int64_t KvBytesAt(const ModelConfig& config, int64_t n, KvStorage storage = KvStorage::kCompact);

// Cache bytes one decoded token reads at context n: each layer's window, its compressed
// entries (HCA: all; CSA: top-k) and, for CSA layers, every indexer key it scores.
int64_t KvReadBytesPerToken(const ModelConfig& config, int64_t n,
                            KvStorage storage = KvStorage::kCompact);

// Multiply-accumulates of one token through the trunk's weight matrices (routed experts:
// num_experts_per_tok of them; lm head excluded) plus its attention over context n.
double MacsPerToken(const ModelConfig& config, int64_t n);

}  // namespace dsv4
