// ModelConfig: the Hugging Face config.json of a DeepSeek-V4 checkpoint (spec §12),
// validated. Field names follow the config keys.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace dsv4 {

struct ModelConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;            // D
  int64_t num_hidden_layers = 0;      // L (trunk)
  int64_t num_attention_heads = 0;    // H
  int64_t head_dim = 0;               // d
  int64_t qk_rope_head_dim = 0;       // r (tail of each head)
  int64_t q_lora_rank = 0;
  int64_t o_groups = 0;
  int64_t o_lora_rank = 0;
  int64_t sliding_window = 0;         // W
  std::vector<int64_t> compress_ratios;  // per layer, trunk then MTP; 0, 4 or 128
  double rope_theta = 10000.0;
  double compress_rope_theta = 160000.0;
  // rope_scaling (YaRN), used on compressed layers only.
  double rope_factor = 1.0;
  int64_t rope_original_max_position = 0;  // 0 = no YaRN
  double rope_beta_fast = 32.0;
  double rope_beta_slow = 1.0;
  int64_t index_n_heads = 0;
  int64_t index_head_dim = 0;
  int64_t index_topk = 0;
  int64_t n_routed_experts = 0;
  int64_t n_shared_experts = 1;
  int64_t num_experts_per_tok = 0;
  int64_t moe_intermediate_size = 0;
  int64_t num_hash_layers = 0;
  double routed_scaling_factor = 1.0;
  std::string scoring_func = "sqrtsoftplus";
  double swiglu_limit = 0.0;
  int64_t hc_mult = 4;
  int64_t hc_sinkhorn_iters = 20;
  double hc_eps = 1e-6;
  double rms_norm_eps = 1e-6;
  int64_t num_nextn_predict_layers = 0;
  int64_t max_position_embeddings = 0;
  int64_t bos_token_id = 0;
  int64_t eos_token_id = 1;

  // Compression ratio of layer l (l == num_hidden_layers.. for MTP layers: always 0).
  int64_t CompressRatio(int64_t layer) const {
    return layer < num_hidden_layers ? compress_ratios[size_t(layer)] : 0;
  }
  int64_t nope_head_dim() const { return head_dim - qk_rope_head_dim; }
};

// Parses and validates config.json text; `source` names the file in error messages.
Result<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& source);
// Reads DIR/config.json.
Result<ModelConfig> LoadModelConfig(const std::string& model_dir);

}  // namespace dsv4
