#include "model/synthetic_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/cache_dir.h"
#include "core/dtype.h"
#include "core/status.h"
#include "model/config.h"
#include "model/safetensors_writer.h"

namespace dsv4 {
namespace {

// splitmix64: fast, good enough for random weights.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  float Uniform() { return float(Next() >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f; }  // [-1, 1)
};

class Builder {
 public:
  explicit Builder(uint64_t seed) : seed_(seed) {}
  std::vector<TensorSpec> tensors;

  // BF16 matrix/vector uniform in ±amp (amp 0 and ones: all ones).
  void Bf16(const std::string& name, std::vector<int64_t> shape, float amp, bool ones = false) {
    uint64_t seed = NextSeed();
    tensors.push_back({name, DType::kBF16, std::move(shape), [=](uint8_t* out, size_t n) {
                         Rng r{seed};
                         for (size_t i = 0; i < n / 2; ++i) {
                           uint16_t b = FloatToBf16(ones ? 1.0f : amp * r.Uniform());
                           std::memcpy(out + 2 * i, &b, 2);
                         }
                       }});
  }
  void F32(const std::string& name, std::vector<int64_t> shape, float amp, float offset = 0) {
    uint64_t seed = NextSeed();
    tensors.push_back({name, DType::kF32, std::move(shape), [=](uint8_t* out, size_t n) {
                         Rng r{seed};
                         for (size_t i = 0; i < n / 4; ++i) {
                           float v = offset + amp * r.Uniform();
                           std::memcpy(out + 4 * i, &v, 4);
                         }
                       }});
  }
  // FP8 weight [out, in] with 128x128 ue8m0 scales: codes with exponent field 5..8
  // (|value| 0.25..3.75) times a per-tensor power of two near 1/sqrt(in).
  void Fp8(const std::string& prefix, int64_t out, int64_t in) {
    uint64_t seed = NextSeed();
    tensors.push_back({prefix + ".weight", DType::kF8E4M3, {out, in}, [=](uint8_t* o, size_t n) {
                         Rng r{seed};
                         for (size_t i = 0; i < n; ++i) {
                           uint64_t v = r.Next();
                           o[i] = uint8_t(((v & 1) << 7) | ((5 + (v >> 1) % 4) << 3) | ((v >> 8) & 7));
                         }
                       }});
    const uint8_t e = ScaleExponent(in, 1.0);
    tensors.push_back({prefix + ".scale", DType::kF8E8M0, {(out + 127) / 128, (in + 127) / 128},
                       [=](uint8_t* o, size_t n) { std::memset(o, e, n); }});
  }
  // FP4 weight [out, in] as I8 [out, in/2] with per-32 ue8m0 scales.
  void Fp4(const std::string& prefix, int64_t out, int64_t in) {
    uint64_t seed = NextSeed();
    tensors.push_back({prefix + ".weight", DType::kI8, {out, in / 2}, [=](uint8_t* o, size_t n) {
                         Rng r{seed};
                         for (size_t i = 0; i < n; i += 8) {
                           uint64_t v = r.Next();
                           std::memcpy(o + i, &v, std::min<size_t>(8, n - i));
                         }
                       }});
    const uint8_t e = ScaleExponent(in, 3.0);
    tensors.push_back({prefix + ".scale", DType::kF8E8M0, {out, in / 32},
                       [=](uint8_t* o, size_t n) { std::memset(o, e, n); }});
  }
  void I64Ids(const std::string& name, int64_t rows, int64_t k, int64_t experts) {
    uint64_t seed = NextSeed();
    tensors.push_back({name, DType::kI64, {rows, k}, [=](uint8_t* o, size_t) {
                         Rng r{seed};
                         for (int64_t row = 0; row < rows; ++row) {
                           std::vector<int64_t> ids;
                           while (int64_t(ids.size()) < k) {
                             int64_t e = int64_t(r.Next() % uint64_t(experts));
                             if (std::find(ids.begin(), ids.end(), e) == ids.end()) ids.push_back(e);
                           }
                           std::memcpy(o + size_t(row * k) * 8, ids.data(), size_t(k) * 8);
                         }
                       }});
  }

 private:
  // ue8m0 byte of the power of two nearest 1 / (typical |code| · sqrt(fan_in)).
  static uint8_t ScaleExponent(int64_t fan_in, double typical_code) {
    int e = int(std::lround(std::log2(1.0 / (typical_code * std::sqrt(double(fan_in))))));
    return uint8_t(127 + e);
  }
  uint64_t NextSeed() { return seed_ = seed_ * 6364136223846793005ull + 1442695040888963407ull; }
  uint64_t seed_;
};

void AddBlock(Builder& b, const std::string& p, int64_t layer, const ModelConfig& c) {
  const int64_t D = c.hidden_size, H = c.num_attention_heads, d = c.head_dim, hc = c.hc_mult;
  const int64_t mix = (2 + hc) * hc, q_r = c.q_lora_rank, G = c.o_groups, o_r = c.o_lora_rank;
  const float dense = 1.0f / std::sqrt(float(D));
  for (const char* part : {"attn", "ffn"}) {
    b.F32(p + "hc_" + part + "_fn", {mix, hc * D}, 0.01f);
    b.F32(p + "hc_" + part + "_base", {mix}, 0.1f);
    b.F32(p + "hc_" + part + "_scale", {3}, 0.0f, 1.0f);
  }
  b.Bf16(p + "attn_norm.weight", {D}, 0, true);
  b.Bf16(p + "ffn_norm.weight", {D}, 0, true);
  const std::string a = p + "attn.";
  b.Fp8(a + "wq_a", q_r, D);
  b.Bf16(a + "q_norm.weight", {q_r}, 0, true);
  b.Fp8(a + "wq_b", H * d, q_r);
  b.Fp8(a + "wkv", d, D);
  b.Bf16(a + "kv_norm.weight", {d}, 0, true);
  b.Fp8(a + "wo_a", G * o_r, H * d / G);
  b.Fp8(a + "wo_b", D, G * o_r);
  b.F32(a + "attn_sink", {H}, 1.0f);
  const int64_t ratio = c.CompressRatio(layer);
  auto compressor = [&](const std::string& cp, int64_t r, int64_t dim) {
    const int64_t coff = r == 4 ? 2 : 1;
    b.Bf16(cp + "wkv.weight", {coff * dim, D}, dense);
    b.Bf16(cp + "wgate.weight", {coff * dim, D}, dense);
    b.F32(cp + "ape", {r, coff * dim}, 0.1f);
    b.Bf16(cp + "norm.weight", {dim}, 0, true);
  };
  if (ratio > 0) compressor(a + "compressor.", ratio, d);
  if (ratio == 4) {
    b.Fp8(a + "indexer.wq_b", c.index_n_heads * c.index_head_dim, q_r);
    b.Bf16(a + "indexer.weights_proj.weight", {c.index_n_heads, D}, dense);
    compressor(a + "indexer.compressor.", 4, c.index_head_dim);
  }
  const std::string f = p + "ffn.";
  const int64_t E = c.n_routed_experts, I = c.moe_intermediate_size;
  b.Bf16(f + "gate.weight", {E, D}, dense);
  if (layer < c.num_hash_layers) {
    b.I64Ids(f + "gate.tid2eid", c.vocab_size, c.num_experts_per_tok, E);
  } else {
    b.F32(f + "gate.bias", {E}, 0.01f);
  }
  for (int64_t e = 0; e < E; ++e) {
    const std::string ep = f + "experts." + std::to_string(e) + ".";
    b.Fp4(ep + "w1", I, D);
    b.Fp4(ep + "w2", D, I);
    b.Fp4(ep + "w3", I, D);
  }
  b.Fp8(f + "shared_experts.w1", I, D);
  b.Fp8(f + "shared_experts.w2", D, I);
  b.Fp8(f + "shared_experts.w3", I, D);
}

}  // namespace

void WriteSyntheticCheckpoint(const std::string& dir, const std::string& config_json,
                              uint64_t seed) {
  Result<ModelConfig> parsed = ParseModelConfig(config_json, dir + "/config.json");
  Require(parsed.ok(), parsed.error());
  const ModelConfig& c = parsed.value();
  std::filesystem::create_directories(dir);
  Builder b(seed);
  const int64_t D = c.hidden_size, V = c.vocab_size, hc = c.hc_mult;
  b.Bf16("embed.weight", {V, D}, 1.0f);
  b.Bf16("head.weight", {V, D}, 1.0f / std::sqrt(float(D)));
  b.Bf16("norm.weight", {D}, 0, true);
  b.F32("hc_head_fn", {hc, hc * D}, 0.01f);
  b.F32("hc_head_base", {hc}, 0.1f);
  b.F32("hc_head_scale", {1}, 0.0f, 1.0f);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    AddBlock(b, "layers." + std::to_string(l) + ".", l, c);
  }
  for (int64_t i = 0; i < c.num_nextn_predict_layers; ++i) {
    const std::string p = "mtp." + std::to_string(i) + ".";
    AddBlock(b, p, c.num_hidden_layers + i, c);
    b.Fp8(p + "e_proj", D, D);
    b.Fp8(p + "h_proj", D, D);
    for (const char* n : {"enorm", "hnorm", "norm"}) b.Bf16(p + n + ".weight", {D}, 0, true);
    b.F32(p + "hc_head_fn", {hc, hc * D}, 0.01f);
    b.F32(p + "hc_head_base", {hc}, 0.1f);
    b.F32(p + "hc_head_scale", {1}, 0.0f, 1.0f);
  }
  WriteSafetensors(dir + "/model.safetensors", b.tensors);
  std::ofstream(dir + "/config.json") << config_json;
}

std::string FlashShapedConfig(int layers) {
  nlohmann::json ratios = nlohmann::json::array();
  for (int l = 0; l < layers; ++l) ratios.push_back(l % 2 == 0 ? 4 : 128);
  nlohmann::json j = {
      {"architectures", {"DeepseekV4ForCausalLM"}}, {"vocab_size", 129280},
      {"hidden_size", 4096}, {"num_hidden_layers", layers}, {"num_attention_heads", 64},
      {"num_key_value_heads", 1}, {"head_dim", 512}, {"qk_rope_head_dim", 64},
      {"q_lora_rank", 1024}, {"o_groups", 8}, {"o_lora_rank", 1024}, {"sliding_window", 128},
      {"compress_ratios", ratios}, {"compress_rope_theta", 160000}, {"rope_theta", 10000},
      {"rope_scaling", {{"type", "yarn"}, {"factor", 16}, {"original_max_position_embeddings", 65536},
                        {"beta_fast", 32}, {"beta_slow", 1}}},
      {"index_n_heads", 64}, {"index_head_dim", 128}, {"index_topk", 512},
      {"n_routed_experts", 256}, {"n_shared_experts", 1}, {"num_experts_per_tok", 6},
      {"moe_intermediate_size", 2048}, {"num_hash_layers", std::min(layers, 1)},
      {"routed_scaling_factor", 1.5}, {"scoring_func", "sqrtsoftplus"}, {"swiglu_limit", 10.0},
      {"hc_mult", 4}, {"hc_sinkhorn_iters", 20}, {"hc_eps", 1e-6}, {"rms_norm_eps", 1e-6},
      {"num_nextn_predict_layers", 0}, {"max_position_embeddings", 1048576},
      {"bos_token_id", 0}, {"eos_token_id", 1},
      {"quantization_config", {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"scale_fmt", "ue8m0"},
                               {"weight_block_size", {128, 128}}}}};
  return j.dump(2);
}

std::string EnsureFlashShapedCheckpoint(std::string cache_dir, int layers) {
  if (cache_dir.empty()) cache_dir = DefaultCacheDir();
  const std::string dir = cache_dir + "/bench-v4-flash-" + std::to_string(layers) + "l";
  const std::string done = dir + "/.complete";
  if (!std::filesystem::exists(done)) {
    std::fprintf(stderr, "generating the V4-Flash-shaped benchmark checkpoint in %s ...\n",
                 dir.c_str());
    std::filesystem::remove_all(dir);
    WriteSyntheticCheckpoint(dir, FlashShapedConfig(layers), 2026);
    std::ofstream(done) << "ok\n";
  }
  return dir;
}

}  // namespace dsv4
