// Configs of small synthetic checkpoints (model/synthetic_checkpoint.h) for the model
// tests: V4's layer kinds (a window layer, CSA, HCA, and an MTP block) at widths that run
// in milliseconds.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "model/synthetic_checkpoint.h"

namespace dsv4 {

// Hidden 256, 2 heads of 128, compress ratios {0, 4, 128}, 8 experts (2 routed), indexer
// top-16, sliding window `window`.
inline std::string SmallSyntheticConfig(int window) {
  nlohmann::json j = nlohmann::json::parse(FlashShapedConfig(3));
  j["vocab_size"] = 300;
  j["hidden_size"] = 256;
  j["num_attention_heads"] = 2;
  j["head_dim"] = 128;
  j["qk_rope_head_dim"] = 64;
  j["q_lora_rank"] = 128;
  j["o_groups"] = 2;
  j["o_lora_rank"] = 128;
  j["sliding_window"] = window;
  j["compress_ratios"] = {0, 4, 128, 0};  // the three layers, then the MTP block
  j["index_n_heads"] = 4;
  j["index_head_dim"] = 128;
  j["index_topk"] = 16;
  j["n_routed_experts"] = 8;
  j["num_experts_per_tok"] = 2;
  j["moe_intermediate_size"] = 128;
  j["num_nextn_predict_layers"] = 1;
  return j.dump();
}

// The same with hidden, q_lora and expert widths of 512: multiples of the tile-order group
// (kernels/tile_order.h), so the FP8 / FP4 products take the tile-order kernels where AMX
// is present, as V4-Flash's shapes do.
inline std::string WideSyntheticConfig(int window) {
  nlohmann::json j = nlohmann::json::parse(SmallSyntheticConfig(window));
  j["hidden_size"] = 512;
  j["q_lora_rank"] = 512;
  j["moe_intermediate_size"] = 512;
  return j.dump();
}

}  // namespace dsv4
