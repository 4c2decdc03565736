// config.json -> ModelConfig (spec §12). Parsing throws dsv4::Error internally and
// converts it to a Result at the two public entry points, so every check can be a
// one-liner; every message starts with the file name and names the offending key.
#include "model/config.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

namespace dsv4 {
namespace {

using nlohmann::json;

// Typed access to the keys of one JSON object. `prefix` qualifies nested keys in
// messages ("rope_scaling.factor"). Absent and null keys count as missing: HF writes
// null for "not set" (rope_scaling), so a null optional key takes its default.
class KeyReader {
 public:
  KeyReader(const json& object, const std::string& source, std::string prefix)
      : object_(object), source_(source), prefix_(std::move(prefix)) {}

  bool Has(const char* key) const {
    auto it = object_.find(key);
    return it != object_.end() && !it->is_null();
  }
  const json& Get(const char* key) const {
    if (!Has(key)) Fail("missing key '" + Name(key) + "'");
    return object_.at(key);
  }

  int64_t Int(const char* key) const { return ToInt(Get(key), Name(key)); }
  int64_t IntOr(const char* key, int64_t fallback) const {
    return Has(key) ? Int(key) : fallback;
  }
  double Double(const char* key) const {
    const json& v = Get(key);
    if (!v.is_number()) Fail(TypeMessage(Name(key), "a number", v));
    double d = v.get<double>();
    if (!std::isfinite(d)) Fail("key '" + Name(key) + "' is not finite");
    return d;
  }
  double DoubleOr(const char* key, double fallback) const {
    return Has(key) ? Double(key) : fallback;
  }
  std::string String(const char* key) const {
    const json& v = Get(key);
    if (!v.is_string()) Fail(TypeMessage(Name(key), "a string", v));
    return v.get<std::string>();
  }
  std::string StringOr(const char* key, const std::string& fallback) const {
    return Has(key) ? String(key) : fallback;
  }
  // An array of integers; `what` names elements in messages ("compress_ratios[3]").
  std::vector<int64_t> IntArray(const char* key) const {
    const json& v = Get(key);
    if (!v.is_array()) Fail(TypeMessage(Name(key), "an array", v));
    std::vector<int64_t> out;
    for (size_t i = 0; i < v.size(); ++i) {
      out.push_back(ToInt(v[i], Name(key) + "[" + std::to_string(i) + "]"));
    }
    return out;
  }

  std::string Name(const char* key) const { return prefix_ + key; }
  [[noreturn]] void Fail(const std::string& message) const {
    throw Error(source_ + ": " + message);
  }

 private:
  int64_t ToInt(const json& v, const std::string& name) const {
    if (v.is_number_unsigned()) {
      uint64_t u = v.get<uint64_t>();
      if (u > uint64_t(std::numeric_limits<int64_t>::max())) {
        Fail("key '" + name + "' = " + std::to_string(u) + " is out of range");
      }
      return int64_t(u);
    }
    if (!v.is_number_integer()) Fail(TypeMessage(name, "an integer", v));
    return v.get<int64_t>();
  }
  static std::string TypeMessage(const std::string& name, const char* expected, const json& v) {
    return "key '" + name + "' must be " + expected + ", got " + v.type_name() + " " +
           v.dump().substr(0, 40);
  }

  const json& object_;
  const std::string& source_;
  std::string prefix_;
};

std::string Str(int64_t v) { return std::to_string(v); }

// Reads the rope_scaling object (YaRN). Absent or null means plain RoPE.
void ReadRopeScaling(const KeyReader& top, const std::string& source, ModelConfig* c) {
  if (!top.Has("rope_scaling")) return;
  const json& rs = top.Get("rope_scaling");
  if (!rs.is_object()) {
    top.Fail("key 'rope_scaling' must be an object or null, got " + std::string(rs.type_name()));
  }
  KeyReader r(rs, source, "rope_scaling.");
  for (const char* type_key : {"type", "rope_type"}) {
    if (r.Has(type_key) && r.String(type_key) != "yarn") {
      r.Fail("key '" + r.Name(type_key) + "' = '" + r.String(type_key) +
             "' is not supported (expected 'yarn')");
    }
  }
  c->rope_factor = r.Double("factor");
  c->rope_original_max_position = r.Int("original_max_position_embeddings");
  c->rope_beta_fast = r.DoubleOr("beta_fast", 32.0);
  c->rope_beta_slow = r.DoubleOr("beta_slow", 1.0);
  if (!(c->rope_factor > 0)) r.Fail("key 'rope_scaling.factor' must be positive");
  if (c->rope_original_max_position <= 0) {
    r.Fail("key 'rope_scaling.original_max_position_embeddings' must be positive");
  }
  if (!(c->rope_beta_fast > 0) || !(c->rope_beta_slow > 0)) {
    r.Fail("keys 'rope_scaling.beta_fast' and 'rope_scaling.beta_slow' must be positive");
  }
}

// The engine implements exactly the FP8 format V4 ships (e4m3, ue8m0, 128x128 blocks);
// anything else would be silently misread, so it is rejected here.
void CheckQuantizationConfig(const KeyReader& top, const std::string& source) {
  if (!top.Has("quantization_config")) return;
  const json& qc = top.Get("quantization_config");
  if (!qc.is_object()) {
    top.Fail("key 'quantization_config' must be an object, got " + std::string(qc.type_name()));
  }
  KeyReader q(qc, source, "quantization_config.");
  if (q.Has("fmt") && q.String("fmt") != "e4m3") {
    q.Fail("key 'quantization_config.fmt' = '" + q.String("fmt") +
           "' is not supported (expected 'e4m3')");
  }
  if (q.Has("scale_fmt") && q.String("scale_fmt") != "ue8m0") {
    q.Fail("key 'quantization_config.scale_fmt' = '" + q.String("scale_fmt") +
           "' is not supported (expected 'ue8m0')");
  }
  if (q.Has("weight_block_size")) {
    std::vector<int64_t> block = q.IntArray("weight_block_size");
    if (block != std::vector<int64_t>{128, 128}) {
      q.Fail("key 'quantization_config.weight_block_size' is not supported (expected [128, 128])");
    }
  }
}

void ReadCompressRatios(const KeyReader& r, ModelConfig* c) {
  c->compress_ratios = r.IntArray("compress_ratios");
  const int64_t n = int64_t(c->compress_ratios.size());
  const int64_t L = c->num_hidden_layers;
  if (n != L && n != L + c->num_nextn_predict_layers) {
    r.Fail("key 'compress_ratios' has " + Str(n) + " entries, expected num_hidden_layers (" +
           Str(L) + ")" +
           (c->num_nextn_predict_layers ? " or num_hidden_layers + num_nextn_predict_layers (" +
                                              Str(L + c->num_nextn_predict_layers) + ")"
                                        : std::string()));
  }
  for (int64_t i = 0; i < n; ++i) {
    int64_t m = c->compress_ratios[size_t(i)];
    std::string at = "compress_ratios[" + Str(i) + "] = " + Str(m);
    if (m != 0 && m != 4 && m != 128) r.Fail(at + " is not supported (expected 0, 4 or 128)");
    // MTP blocks are sliding-window only (spec §9); CompressRatio() returns 0 for them.
    if (i >= L && m != 0) r.Fail(at + " is not supported for an MTP layer (expected 0)");
  }
}

// Cross-key consistency the forward pass relies on.
void Validate(const KeyReader& r, const ModelConfig& c) {
  struct Positive {
    const char* key;
    int64_t value;
  };
  for (const Positive& p : {Positive{"vocab_size", c.vocab_size},
                            Positive{"hidden_size", c.hidden_size},
                            Positive{"num_hidden_layers", c.num_hidden_layers},
                            Positive{"num_attention_heads", c.num_attention_heads},
                            Positive{"head_dim", c.head_dim},
                            Positive{"qk_rope_head_dim", c.qk_rope_head_dim},
                            Positive{"q_lora_rank", c.q_lora_rank},
                            Positive{"o_groups", c.o_groups},
                            Positive{"o_lora_rank", c.o_lora_rank},
                            Positive{"sliding_window", c.sliding_window},
                            Positive{"index_n_heads", c.index_n_heads},
                            Positive{"index_head_dim", c.index_head_dim},
                            Positive{"index_topk", c.index_topk},
                            Positive{"n_routed_experts", c.n_routed_experts},
                            Positive{"num_experts_per_tok", c.num_experts_per_tok},
                            Positive{"moe_intermediate_size", c.moe_intermediate_size},
                            Positive{"hc_mult", c.hc_mult},
                            Positive{"hc_sinkhorn_iters", c.hc_sinkhorn_iters},
                            Positive{"max_position_embeddings", c.max_position_embeddings}}) {
    if (p.value <= 0) r.Fail("key '" + std::string(p.key) + "' = " + Str(p.value) +
                             " must be positive");
  }
  struct PositiveReal {
    const char* key;
    double value;
  };
  for (const PositiveReal& p : {PositiveReal{"rope_theta", c.rope_theta},
                                PositiveReal{"compress_rope_theta", c.compress_rope_theta},
                                PositiveReal{"routed_scaling_factor", c.routed_scaling_factor},
                                PositiveReal{"hc_eps", c.hc_eps},
                                PositiveReal{"rms_norm_eps", c.rms_norm_eps}}) {
    if (!(p.value > 0)) r.Fail("key '" + std::string(p.key) + "' must be positive");
  }
  // swiglu_limit <= 0 would mean "no clamp" in the reference; negative is nonsense.
  if (c.swiglu_limit < 0) r.Fail("key 'swiglu_limit' must not be negative");
  if (c.qk_rope_head_dim % 2 != 0 || c.qk_rope_head_dim >= c.head_dim) {
    r.Fail("key 'qk_rope_head_dim' = " + Str(c.qk_rope_head_dim) +
           " must be even and less than 'head_dim' (" + Str(c.head_dim) + ")");
  }
  // The non-rotary part of the KV entry is simulated in 64-element FP8 blocks.
  if (c.nope_head_dim() % 64 != 0) {
    r.Fail("keys 'head_dim' - 'qk_rope_head_dim' = " + Str(c.nope_head_dim()) +
           " must be a multiple of 64");
  }
  // The indexer rotates with a Hadamard transform (power of two) and quantises in
  // 32-blocks; its rope part is the tail of the head.
  const int64_t dI = c.index_head_dim;
  if ((dI & (dI - 1)) != 0 || dI % 32 != 0 || dI <= c.qk_rope_head_dim) {
    r.Fail("key 'index_head_dim' = " + Str(dI) +
           " must be a power of two, a multiple of 32 and greater than 'qk_rope_head_dim' (" +
           Str(c.qk_rope_head_dim) + ")");
  }
  if (c.num_attention_heads % c.o_groups != 0) {
    r.Fail("key 'num_attention_heads' = " + Str(c.num_attention_heads) +
           " must be a multiple of 'o_groups' (" + Str(c.o_groups) + ")");
  }
  if (c.num_experts_per_tok > c.n_routed_experts) {
    r.Fail("key 'num_experts_per_tok' = " + Str(c.num_experts_per_tok) +
           " must not exceed 'n_routed_experts' (" + Str(c.n_routed_experts) + ")");
  }
  if (c.num_hash_layers < 0 || c.num_hash_layers > c.num_hidden_layers) {
    r.Fail("key 'num_hash_layers' = " + Str(c.num_hash_layers) + " must be in [0, " +
           Str(c.num_hidden_layers) + "] ('num_hidden_layers')");
  }
}

ModelConfig ParseOrThrow(const std::string& json_text, const std::string& source) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    throw Error(source + ": invalid JSON: " + e.what());
  }
  if (!root.is_object()) {
    throw Error(source + ": expected a JSON object at the top level, got " + root.type_name());
  }
  KeyReader r(root, source, "");
  ModelConfig c;
  c.vocab_size = r.Int("vocab_size");
  c.hidden_size = r.Int("hidden_size");
  c.num_hidden_layers = r.Int("num_hidden_layers");
  c.num_attention_heads = r.Int("num_attention_heads");
  c.head_dim = r.Int("head_dim");
  c.qk_rope_head_dim = r.Int("qk_rope_head_dim");
  c.q_lora_rank = r.Int("q_lora_rank");
  c.o_groups = r.Int("o_groups");
  c.o_lora_rank = r.Int("o_lora_rank");
  c.sliding_window = r.Int("sliding_window");
  c.index_n_heads = r.Int("index_n_heads");
  c.index_head_dim = r.Int("index_head_dim");
  c.index_topk = r.Int("index_topk");
  c.n_routed_experts = r.Int("n_routed_experts");
  c.num_experts_per_tok = r.Int("num_experts_per_tok");
  c.moe_intermediate_size = r.Int("moe_intermediate_size");
  c.num_hash_layers = r.Int("num_hash_layers");
  c.routed_scaling_factor = r.Double("routed_scaling_factor");
  c.hc_mult = r.Int("hc_mult");
  c.hc_sinkhorn_iters = r.Int("hc_sinkhorn_iters");
  c.hc_eps = r.Double("hc_eps");
  c.rms_norm_eps = r.Double("rms_norm_eps");
  c.swiglu_limit = r.Double("swiglu_limit");
  c.rope_theta = r.Double("rope_theta");
  c.max_position_embeddings = r.Int("max_position_embeddings");

  c.n_shared_experts = r.IntOr("n_shared_experts", 1);
  if (c.n_shared_experts != 1) {
    r.Fail("key 'n_shared_experts' = " + Str(c.n_shared_experts) + " is not supported (expected 1)");
  }
  c.scoring_func = r.StringOr("scoring_func", "sqrtsoftplus");
  if (c.scoring_func != "sqrtsoftplus") {
    r.Fail("key 'scoring_func' = '" + c.scoring_func +
           "' is not supported (expected 'sqrtsoftplus')");
  }
  c.num_nextn_predict_layers = r.IntOr("num_nextn_predict_layers", 0);
  if (c.num_nextn_predict_layers != 0 && c.num_nextn_predict_layers != 1) {
    r.Fail("key 'num_nextn_predict_layers' = " + Str(c.num_nextn_predict_layers) +
           " is not supported (expected 0 or 1)");
  }
  // V4 has a single shared KV head (spec §1); the key is informational when present.
  if (r.Has("num_key_value_heads") && r.Int("num_key_value_heads") != 1) {
    r.Fail("key 'num_key_value_heads' = " + Str(r.Int("num_key_value_heads")) +
           " is not supported (expected 1)");
  }
  c.bos_token_id = r.IntOr("bos_token_id", 0);
  c.eos_token_id = r.IntOr("eos_token_id", 1);

  // compress_ratios needs num_hidden_layers and num_nextn_predict_layers (read above).
  ReadCompressRatios(r, &c);
  bool any_compressed = false;
  for (int64_t m : c.compress_ratios) any_compressed |= m > 0;
  c.compress_rope_theta = any_compressed ? r.Double("compress_rope_theta")
                                         : r.DoubleOr("compress_rope_theta", c.compress_rope_theta);
  ReadRopeScaling(r, source, &c);
  CheckQuantizationConfig(r, source);
  Validate(r, c);
  return c;
}

}  // namespace

Result<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& source) {
  try {
    return ParseOrThrow(json_text, source);
  } catch (const Error& e) {
    return Result<ModelConfig>::Fail(e.what());
  } catch (const json::exception& e) {  // defensive: KeyReader checks types first
    return Result<ModelConfig>::Fail(source + ": " + e.what());
  }
}

Result<ModelConfig> LoadModelConfig(const std::string& model_dir) {
  std::string path = model_dir;
  if (!path.empty() && path.back() != '/') path += '/';
  path += "config.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) return Result<ModelConfig>::Fail(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Result<ModelConfig>::Fail(path + ": read error");
  return ParseModelConfig(text.str(), path);
}

}  // namespace dsv4
