// ModelConfig parsing: a valid tiny config, defaults, and one test per kind of bad
// input. Every error must name the file and the key.
#include "model/config.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace dsv4 {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::HasSubstr;

const char* kSource = "models/tiny/config.json";

// A small but fully valid V4-shaped config: 4 trunk layers + 1 MTP layer.
json TinyConfig() {
  return json::parse(R"({
    "vocab_size": 256, "hidden_size": 64, "num_hidden_layers": 4,
    "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 128,
    "qk_rope_head_dim": 64, "q_lora_rank": 32, "o_groups": 2, "o_lora_rank": 32,
    "sliding_window": 8, "compress_ratios": [0, 4, 128, 4, 0],
    "index_n_heads": 2, "index_head_dim": 128, "index_topk": 4,
    "n_routed_experts": 4, "n_shared_experts": 1, "num_experts_per_tok": 2,
    "moe_intermediate_size": 32, "num_hash_layers": 1, "routed_scaling_factor": 1.5,
    "scoring_func": "sqrtsoftplus", "swiglu_limit": 10.0,
    "hc_mult": 4, "hc_sinkhorn_iters": 20, "hc_eps": 1e-6, "rms_norm_eps": 1e-6,
    "rope_theta": 10000, "compress_rope_theta": 160000,
    "rope_scaling": {"type": "yarn", "factor": 16, "original_max_position_embeddings": 65536,
                     "beta_fast": 32, "beta_slow": 1},
    "num_nextn_predict_layers": 1, "max_position_embeddings": 1048576,
    "bos_token_id": 0, "eos_token_id": 1,
    "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3",
                            "quant_method": "fp8", "scale_fmt": "ue8m0",
                            "weight_block_size": [128, 128]}
  })");
}

Result<ModelConfig> Parse(const json& j) { return ParseModelConfig(j.dump(), kSource); }

// Asserts parsing fails with a message naming the source and containing `needle`.
void ExpectError(const json& j, const std::string& needle) {
  Result<ModelConfig> r = Parse(j);
  ASSERT_FALSE(r.ok()) << "expected an error containing: " << needle;
  EXPECT_THAT(r.error(), AllOf(HasSubstr(kSource), HasSubstr(needle)));
}

TEST(ConfigTest, ParsesValidConfig) {
  Result<ModelConfig> r = Parse(TinyConfig());
  ASSERT_TRUE(r.ok()) << r.error();
  const ModelConfig& c = r.value();
  EXPECT_EQ(c.vocab_size, 256);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.num_hidden_layers, 4);
  EXPECT_EQ(c.nope_head_dim(), 64);
  EXPECT_EQ(c.o_groups, 2);
  EXPECT_EQ(c.compress_ratios.size(), 5u);
  EXPECT_EQ(c.CompressRatio(0), 0);
  EXPECT_EQ(c.CompressRatio(1), 4);
  EXPECT_EQ(c.CompressRatio(2), 128);
  EXPECT_EQ(c.CompressRatio(4), 0);  // the MTP layer
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(c.compress_rope_theta, 160000.0);
  EXPECT_DOUBLE_EQ(c.rope_factor, 16.0);
  EXPECT_EQ(c.rope_original_max_position, 65536);
  EXPECT_DOUBLE_EQ(c.rope_beta_fast, 32.0);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 1.5);
  EXPECT_DOUBLE_EQ(c.swiglu_limit, 10.0);
  EXPECT_EQ(c.num_nextn_predict_layers, 1);
  EXPECT_EQ(c.max_position_embeddings, 1048576);
  EXPECT_EQ(c.eos_token_id, 1);
}

TEST(ConfigTest, OptionalKeysTakeDefaults) {
  json j = TinyConfig();
  for (const char* key : {"n_shared_experts", "scoring_func", "num_nextn_predict_layers",
                          "bos_token_id", "eos_token_id", "quantization_config",
                          "num_key_value_heads"}) {
    j.erase(key);
  }
  j["compress_ratios"] = {0, 4, 128, 4};  // no MTP layer now
  j["rope_scaling"] = nullptr;            // HF writes null for "no scaling"
  Result<ModelConfig> r = Parse(j);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->n_shared_experts, 1);
  EXPECT_EQ(r->scoring_func, "sqrtsoftplus");
  EXPECT_EQ(r->num_nextn_predict_layers, 0);
  EXPECT_EQ(r->bos_token_id, 0);
  EXPECT_EQ(r->eos_token_id, 1);
  EXPECT_DOUBLE_EQ(r->rope_factor, 1.0);
  EXPECT_EQ(r->rope_original_max_position, 0);
}

TEST(ConfigTest, RopeScalingBetasDefault) {
  json j = TinyConfig();
  j["rope_scaling"] = {{"factor", 4}, {"original_max_position_embeddings", 4096}};
  Result<ModelConfig> r = Parse(j);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_DOUBLE_EQ(r->rope_beta_fast, 32.0);
  EXPECT_DOUBLE_EQ(r->rope_beta_slow, 1.0);
}

TEST(ConfigTest, CompressRatiosMayOmitMtpEntry) {
  json j = TinyConfig();
  j["compress_ratios"] = {0, 4, 128, 4};
  Result<ModelConfig> r = Parse(j);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->CompressRatio(4), 0);
}

TEST(ConfigTest, CompressRopeThetaOptionalWithoutCompressedLayers) {
  json j = TinyConfig();
  j["compress_ratios"] = {0, 0, 0, 0, 0};
  j.erase("compress_rope_theta");
  EXPECT_TRUE(Parse(j).ok());
  j["compress_ratios"] = {0, 4, 0, 0, 0};
  ExpectError(j, "missing key 'compress_rope_theta'");
}

TEST(ConfigTest, EveryRequiredKeyIsRequired) {
  for (const char* key :
       {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "head_dim",
        "qk_rope_head_dim", "q_lora_rank", "o_groups", "o_lora_rank", "sliding_window",
        "compress_ratios", "index_n_heads", "index_head_dim", "index_topk", "n_routed_experts",
        "num_experts_per_tok", "moe_intermediate_size", "num_hash_layers",
        "routed_scaling_factor", "hc_mult", "hc_sinkhorn_iters", "hc_eps", "rms_norm_eps",
        "swiglu_limit", "rope_theta", "compress_rope_theta", "max_position_embeddings"}) {
    SCOPED_TRACE(key);
    json j = TinyConfig();
    j.erase(key);
    ExpectError(j, std::string("missing key '") + key + "'");
  }
}

TEST(ConfigTest, MissingKeyMessage) {
  json j = TinyConfig();
  j.erase("hidden_size");
  Result<ModelConfig> r = Parse(j);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "models/tiny/config.json: missing key 'hidden_size'");
}

TEST(ConfigTest, UnsupportedScoringFunc) {
  json j = TinyConfig();
  j["scoring_func"] = "softmax";
  ExpectError(j, "'scoring_func' = 'softmax' is not supported");
}

TEST(ConfigTest, UnsupportedCompressRatio) {
  json j = TinyConfig();
  j["compress_ratios"][3] = 7;
  ExpectError(j, "compress_ratios[3] = 7 is not supported (expected 0, 4 or 128)");
}

TEST(ConfigTest, CompressRatiosWrongLength) {
  json j = TinyConfig();
  j["compress_ratios"] = {0, 4, 128};
  ExpectError(j, "'compress_ratios' has 3 entries");
}

TEST(ConfigTest, MtpCompressRatioMustBeZero) {
  json j = TinyConfig();
  j["compress_ratios"][4] = 4;
  ExpectError(j, "compress_ratios[4] = 4 is not supported for an MTP layer");
}

TEST(ConfigTest, UnsupportedSharedExperts) {
  json j = TinyConfig();
  j["n_shared_experts"] = 2;
  ExpectError(j, "'n_shared_experts' = 2 is not supported");
}

TEST(ConfigTest, WrongTypesAreErrors) {
  struct Case {
    const char* key;
    json value;
    const char* needle;
  };
  for (const Case& c : {Case{"hidden_size", "4096", "'hidden_size' must be an integer, got string"},
                        Case{"hidden_size", 64.5, "'hidden_size' must be an integer, got number"},
                        Case{"num_hidden_layers", true, "'num_hidden_layers' must be an integer"},
                        Case{"rms_norm_eps", "1e-6", "'rms_norm_eps' must be a number"},
                        Case{"scoring_func", 3, "'scoring_func' must be a string"},
                        Case{"compress_ratios", 4, "'compress_ratios' must be an array"},
                        Case{"compress_ratios", {0, "4", 0, 0, 0}, "'compress_ratios[1]' must be"},
                        Case{"rope_scaling", "yarn", "'rope_scaling' must be an object"},
                        Case{"vocab_size", 18446744073709551615ull, "'vocab_size'"}}) {
    SCOPED_TRACE(c.key);
    json j = TinyConfig();
    j[c.key] = c.value;
    ExpectError(j, c.needle);
  }
}

TEST(ConfigTest, MalformedJson) {
  Result<ModelConfig> r = ParseModelConfig("{\"hidden_size\": 64,", kSource);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error(), AllOf(HasSubstr(kSource), HasSubstr("invalid JSON")));
  r = ParseModelConfig("[1, 2]", kSource);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error(), AllOf(HasSubstr(kSource), HasSubstr("JSON object")));
  r = ParseModelConfig("", kSource);
  EXPECT_FALSE(r.ok());
}

TEST(ConfigTest, InconsistentValues) {
  struct Case {
    const char* key;
    json value;
    const char* needle;
  };
  for (const Case& c :
       {Case{"hidden_size", 0, "'hidden_size' = 0 must be positive"},
        Case{"sliding_window", -1, "'sliding_window' = -1 must be positive"},
        Case{"index_topk", 0, "'index_topk' = 0 must be positive"},
        Case{"hc_sinkhorn_iters", 0, "'hc_sinkhorn_iters' = 0 must be positive"},
        Case{"hc_mult", 0, "'hc_mult' = 0 must be positive"},
        Case{"qk_rope_head_dim", 63, "'qk_rope_head_dim' = 63 must be even"},
        Case{"qk_rope_head_dim", 128, "'qk_rope_head_dim' = 128 must be even and less than"},
        Case{"head_dim", 160, "must be a multiple of 64"},
        Case{"index_head_dim", 96, "'index_head_dim' = 96 must be a power of two"},
        Case{"index_head_dim", 16, "'index_head_dim' = 16"},
        Case{"index_head_dim", 64, "'index_head_dim' = 64"},  // not > rope dims
        Case{"o_groups", 3, "'num_attention_heads' = 4 must be a multiple of 'o_groups' (3)"},
        Case{"num_experts_per_tok", 5, "'num_experts_per_tok' = 5 must not exceed"},
        Case{"num_hash_layers", 5, "'num_hash_layers' = 5"},
        Case{"num_nextn_predict_layers", 2, "'num_nextn_predict_layers' = 2 is not supported"},
        Case{"num_key_value_heads", 2, "'num_key_value_heads' = 2 is not supported"},
        Case{"rms_norm_eps", 0, "'rms_norm_eps' must be positive"},
        Case{"rope_theta", -1.0, "'rope_theta' must be positive"}}) {
    SCOPED_TRACE(std::string(c.key) + " = " + c.value.dump());
    json j = TinyConfig();
    j[c.key] = c.value;
    ExpectError(j, c.needle);
  }
}

TEST(ConfigTest, RopeScalingChecks) {
  json j = TinyConfig();
  j["rope_scaling"]["type"] = "linear";
  ExpectError(j, "'rope_scaling.type' = 'linear' is not supported");
  j = TinyConfig();
  j["rope_scaling"].erase("type");
  j["rope_scaling"]["rope_type"] = "dynamic";
  ExpectError(j, "'rope_scaling.rope_type' = 'dynamic'");
  j = TinyConfig();
  j["rope_scaling"].erase("factor");
  ExpectError(j, "missing key 'rope_scaling.factor'");
  j = TinyConfig();
  j["rope_scaling"]["original_max_position_embeddings"] = "65536";
  ExpectError(j, "'rope_scaling.original_max_position_embeddings' must be an integer");
}

TEST(ConfigTest, QuantizationConfigChecks) {
  json j = TinyConfig();
  j["quantization_config"]["fmt"] = "e5m2";
  ExpectError(j, "'quantization_config.fmt' = 'e5m2' is not supported");
  j = TinyConfig();
  j["quantization_config"]["scale_fmt"] = "fp32";
  ExpectError(j, "'quantization_config.scale_fmt' = 'fp32' is not supported");
  j = TinyConfig();
  j["quantization_config"]["weight_block_size"] = {64, 64};
  ExpectError(j, "'quantization_config.weight_block_size' is not supported");
  j = TinyConfig();
  j["quantization_config"] = json::object();  // nothing given: nothing to check
  EXPECT_TRUE(Parse(j).ok());
}

TEST(ConfigTest, LoadFromDirectory) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("dsv4_config_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Result<ModelConfig> missing = LoadModelConfig(dir.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error(), HasSubstr((dir / "config.json").string()));

  json j = TinyConfig();
  j.erase("index_topk");
  std::ofstream(dir / "config.json") << j.dump(2);
  Result<ModelConfig> bad = LoadModelConfig(dir.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error(), AllOf(HasSubstr((dir / "config.json").string()),
                                 HasSubstr("missing key 'index_topk'")));

  std::ofstream(dir / "config.json") << TinyConfig().dump(2);
  Result<ModelConfig> good = LoadModelConfig(dir.string());
  EXPECT_TRUE(good.ok()) << good.error();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dsv4
