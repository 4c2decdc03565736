// The DeepSeek-V4 model: a loaded checkpoint plus the forward pass over chunks of
// tokens of one or more sequences. Threading: one thread (the engine's) calls
// Forward at a time; the big matrix work inside uses the global thread pool.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/forward/batch_rows.h"
#include "model/forward/forward_options.h"
#include "model/forward/ops.h"
#include "model/forward/row_blocks_cache.h"
#include "model/forward/state.h"
#include "model/forward/weights.h"

namespace dsv4 {

// One sequence's slice of a forward step: its next tokens, at positions
// state->length() onwards.
struct ForwardSegment {
  SequenceState* state = nullptr;
  std::vector<int32_t> tokens;
  bool all_logits = false;          // logits for every token, else only the last
  std::vector<float>* logits = nullptr;  // out: [rows, vocab]
  std::vector<float>* hidden = nullptr;  // out (optional): final HC state [n, hc, D]
};

// One sequence's slice of an MTP step: pairs (h_p, t_{p+1}) at MTP positions
// state->mtp_length() onwards.
struct MtpSegment {
  SequenceState* state = nullptr;
  std::vector<float> hidden;        // [n, hc, D], the trunk's final HC states h_p
  std::vector<int32_t> next_tokens; // [n], t_{p+1}
  std::vector<float>* logits = nullptr;  // out: [n, vocab]
};

struct LoadOptions {
  // Where the blocked copies of the BF16 matrices come from and go (row_blocks_cache.h).
  RowBlocksCacheOptions row_blocks_cache = RowBlocksCacheOptionsFromEnv();
  // Lock the weights in RAM once loaded (core/memory_lock.h; `--mlock`): the checkpoint's
  // maps and the blocked copies. Load fails, saying why, where the process may not.
  bool lock_in_memory = false;
};

// Where the model's blocked BF16 copies came from at load.
enum class RowBlocksOrigin {
  kNone,             // none made (no kernel for them here, or precise mode)
  kPacked,           // packed at load, not cached (cache off, too small, or not writable)
  kPackedAndCached,  // packed at load and written to the cache file for later loads
  kCacheFile,        // mapped from the cache file
};
// "none", "packed", "packed+cached", "cache file".
const char* RowBlocksOriginName(RowBlocksOrigin origin);

class Model {
 public:
  static Result<std::unique_ptr<Model>> Load(const std::string& dir, const LoadOptions& options = LoadOptions());

  const ModelConfig& config() const { return config_; }
  const Checkpoint& checkpoint() const { return *checkpoint_; }
  const ModelWeights& weights() const { return weights_; }
  bool has_mtp() const { return !weights_.mtp.empty(); }
  RowBlocksOrigin row_blocks_origin() const { return row_blocks_origin_; }

  // A fresh per-sequence state for this model. kCompact (FP8/FP4 caches) needs forwards
  // with act_quant on; KvStorageFor(options.act_quant) picks the matching one.
  std::unique_ptr<SequenceState> NewState(bool with_mtp,
                                          KvStorage storage = KvStorage::kCompact) const {
    return std::make_unique<SequenceState>(config_, with_mtp, storage);
  }

  // Runs each segment's tokens through the trunk, advancing its state. All segments'
  // rows go through each weight matrix together (weights are read once per step); every
  // row is computed exactly as it would be alone. Token ids must be < vocab_size and
  // positions < max_position_embeddings (checked before any state changes: throws Error).
  void Forward(std::vector<ForwardSegment>& segments, const ForwardOptions& options) const;

  // Runs the MTP block over each segment's pairs, advancing its MTP state.
  void ForwardMtp(std::vector<MtpSegment>& segments, const ForwardOptions& options) const;

 private:
  // One block over the rows of all sequences of a step: x [N, hc, D] in place.
  void Block(const BlockWeights& w, const std::vector<LayerRows>& segs, float* x,
             const int32_t* tokens, int64_t N, const ForwardOptions& options) const;
  // x [T, hc, D] -> logits [T, V] through an HC head and a final norm.
  void Head(const float* x, int64_t T, const HcHeadWeights& hc_head,
            const std::vector<float>& norm, float* logits) const;
  const RopeTable& RopeFor(int64_t layer) const;
  // At load: 16-row blocked copies of the BF16 matrices, where fast mode has the kernel
  // for them.
  void PackRowBlocks(const RowBlocksCacheOptions& cache);
  // Every byte the weights live in, locked in RAM (LoadOptions::lock_in_memory).
  Status LockWeightsInMemory() const;

  ModelConfig config_;
  std::unique_ptr<Checkpoint> checkpoint_;
  ModelWeights weights_;
  RopeTable rope_window_, rope_compressed_;
  RowBlocksOrigin row_blocks_origin_ = RowBlocksOrigin::kNone;
};

}  // namespace dsv4
