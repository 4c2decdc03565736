#include "engine/state_bytes.h"

namespace dsv4 {

// Mirrors SequenceState's layout (state.cc); the engine tests check the two agree.
int64_t EstimateStateBytes(const ModelConfig& config, int64_t tokens) {
  int64_t total = 0;
  for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
    total += config.sliding_window * config.head_dim * 2;  // bf16 window ring
    const int64_t ratio = config.CompressRatio(l);
    if (ratio == 0) continue;
    const int64_t coff = ratio == 4 ? 2 : 1;
    // Compressor partial blocks: current (+ previous when overlapping), kv and score, fp32.
    total += ratio * coff * config.head_dim * coff * 2 * 4;
    total += (tokens / ratio) * config.head_dim * 2;  // bf16 compressed entries
    if (ratio == 4) {
      total += 4 * 2 * config.index_head_dim * 2 * 2 * 4;  // indexer compressor partials
      total += (tokens / 4) * config.index_head_dim * 2;  // bf16 indexer keys
    }
  }
  return total;
}

}  // namespace dsv4
