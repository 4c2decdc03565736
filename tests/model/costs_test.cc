// Per-token cost figures against the numbers derived in spec §13.2 for the real configs.
#include <gtest/gtest.h>

#include <string>

#include "model/config.h"
#include "model/forward/costs.h"

namespace dsv4 {
namespace {

// The config keys of a V4 checkpoint with the given shape (values from spec §1).
std::string V4Config(int D, int L, int H, int q_r, int G, int E, int I, double rho,
                     const std::string& ratios, int topk) {
  return R"({"vocab_size": 129280, "hidden_size": )" + std::to_string(D) +
         R"(, "num_hidden_layers": )" + std::to_string(L) +
         R"(, "num_attention_heads": )" + std::to_string(H) +
         R"(, "head_dim": 512, "qk_rope_head_dim": 64, "q_lora_rank": )" + std::to_string(q_r) +
         R"(, "o_groups": )" + std::to_string(G) +
         R"(, "o_lora_rank": 1024, "sliding_window": 128, "compress_ratios": )" + ratios +
         R"(, "compress_rope_theta": 160000, "rope_theta": 10000,
         "rope_scaling": {"type": "yarn", "factor": 16, "original_max_position_embeddings": 65536,
                          "beta_fast": 32, "beta_slow": 1},
         "index_n_heads": 64, "index_head_dim": 128, "index_topk": )" + std::to_string(topk) +
         R"(, "n_routed_experts": )" + std::to_string(E) +
         R"(, "n_shared_experts": 1, "num_experts_per_tok": 6, "moe_intermediate_size": )" +
         std::to_string(I) + R"(, "num_hash_layers": 3, "routed_scaling_factor": )" +
         std::to_string(rho) + R"(, "scoring_func": "sqrtsoftplus", "swiglu_limit": 10.0,
         "hc_mult": 4, "hc_sinkhorn_iters": 20, "hc_eps": 1e-6, "rms_norm_eps": 1e-6,
         "num_nextn_predict_layers": 1, "max_position_embeddings": 1048576})";
}

std::string Ratios(int layers, bool pro) {
  std::string s = "[";
  for (int l = 0; l < layers; ++l) {
    int r = l < 2 ? (pro ? 128 : 0) : (l % 2 == 0 ? 4 : 128);
    s += std::to_string(r) + ",";
  }
  return s + "0]";
}

TEST(CostsTest, FlashCacheBytesMatchSpec) {
  auto c = ParseModelConfig(V4Config(4096, 43, 64, 1024, 8, 256, 2048, 1.5, Ratios(43, false), 512),
                            "flash");
  ASSERT_TRUE(c.ok()) << c.error();
  // bf16: 21 CSA layers x (1024/4 + 256/4) + 20 HCA layers x 1024/128 (spec §13.2: 6880).
  EXPECT_DOUBLE_EQ(KvBytesPerToken(c.value(), KvStorage::kBf16), 6880.0);
  // Compact (FP8 main 584 B + FP4 indexer 68 B): 21 x (146 + 17) + 20 x 4.5625 = 3514.25.
  EXPECT_DOUBLE_EQ(KvBytesPerToken(c.value()), 3514.25);
  // Constant parts: windows (128 entries per layer), compressor partial blocks (spec
  // §13.2: 64 KiB + 16 KiB per CSA layer, 512 KiB per HCA layer: 11.6 MiB in all).
  const int64_t compressors = 21LL * (64 + 16) * 1024 + 20LL * 512 * 1024;
  EXPECT_EQ(KvBytesAt(c.value(), 0, KvStorage::kBf16), 43LL * 128 * 1024 + compressors);
  EXPECT_EQ(KvBytesAt(c.value(), 0), 43LL * 128 * 584 + compressors);
  // 1M tokens: 3514.25 x 2^20 bytes = 3.43 GiB of entries, as the spec's FP8+FP4 column.
  EXPECT_EQ(KvBytesAt(c.value(), 1048576), 3684958208LL + 43LL * 128 * 584 + compressors);
  EXPECT_EQ(KvBytesAt(c.value(), 1048576, KvStorage::kBf16),
            6880LL * 1048576 + 43LL * 128 * 1024 + compressors);
}

TEST(CostsTest, ProCacheBytesMatchSpec) {
  auto c = ParseModelConfig(V4Config(7168, 61, 128, 1536, 16, 384, 3072, 2.5, Ratios(61, true), 1024),
                            "pro");
  ASSERT_TRUE(c.ok()) << c.error();
  // 30 CSA x 320 + 31 HCA x 8 = 9848 (spec §13.2); compact 30 x 163 + 31 x 4.5625.
  EXPECT_DOUBLE_EQ(KvBytesPerToken(c.value(), KvStorage::kBf16), 9848.0);
  EXPECT_DOUBLE_EQ(KvBytesPerToken(c.value()), 5031.4375);
}

}  // namespace
}  // namespace dsv4
