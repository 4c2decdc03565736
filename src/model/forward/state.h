// Per-sequence inference state (spec §6.5, §6.6, §13.2): for every layer the raw
// sliding window, the compressed KV entries, the compressor's partial blocks, and for
// CSA layers the indexer's keys and compressor. Owned by one sequence; the engine
// thread alone touches it. Reset() returns it to "no tokens seen".
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace dsv4 {

// Partial-block state of one gated-pooling compressor (spec §6.6 decode state machine).
struct CompressorState {
  int64_t ratio = 0, dim = 0, coff = 1;
  // Rows of the block being filled, slot = pos % ratio: kv and score, each [ratio, coff·dim].
  std::vector<float> cur_kv, cur_score;
  // The previous complete block (overlap only), same layout; score -inf when absent.
  std::vector<float> prev_kv, prev_score;
  void Init(int64_t ratio, int64_t dim, int64_t coff);
  void Reset();
};

struct LayerState {
  int64_t head_dim = 0;
  int64_t window = 0;
  // Cached vectors are bf16-exact by construction, so they are stored as bf16 bits.
  std::vector<uint16_t> window_kv;   // ring [window, head_dim], slot = pos % window
  std::vector<uint16_t> compressed;  // [n_entries, head_dim]
  CompressorState compressor;
  std::vector<uint16_t> index_keys;  // [n_entries, index_head_dim] (CSA only)
  CompressorState index_compressor;
  int64_t num_compressed() const { return head_dim ? int64_t(compressed.size()) / head_dim : 0; }
};

class SequenceState {
 public:
  // Layers: the trunk's, then (if with_mtp) the MTP block's.
  SequenceState(const ModelConfig& config, bool with_mtp);
  void Reset();

  // Positions already processed by the trunk (the next token's position).
  int64_t length() const { return length_; }
  void set_length(int64_t n) { length_ = n; }
  // Positions already processed by the MTP block.
  int64_t mtp_length() const { return mtp_length_; }
  void set_mtp_length(int64_t n) { mtp_length_ = n; }

  LayerState& layer(int64_t l) { return layers_[size_t(l)]; }
  int64_t num_layers() const { return int64_t(layers_.size()); }
  // The trunk's last HC state [hc, D] at each processed position is not kept; the
  // caller gets it from the forward when it needs MTP inputs.

  // Bytes held by the caches (window, compressed, index keys, compressor partials).
  int64_t bytes() const;

 private:
  std::vector<LayerState> layers_;
  int64_t length_ = 0;
  int64_t mtp_length_ = 0;
};

}  // namespace dsv4
