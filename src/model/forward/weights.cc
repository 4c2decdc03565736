#include "model/forward/weights.h"

#include <cstring>

#include "core/dtype.h"
#include "core/status.h"
#include "model/tensor_binder.h"

namespace dsv4 {
namespace {

// Copies a small BF16 or F32 tensor of the given shape (default: a vector) to fp32.
// The spec stores some of these as F32, others as BF16; both are accepted for any.
std::vector<float> BindValues(TensorBinder& b, const std::string& name,
                              const std::vector<int64_t>& shape) {
  const TensorRef& t = b.Require(name, {DType::kBF16, DType::kF32}, shape);
  const int64_t n = t.numel();
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (t.dtype == DType::kF32) {
      std::memcpy(&v[size_t(i)], t.data + 4 * i, 4);
    } else {
      uint16_t bits;
      std::memcpy(&bits, t.data + 2 * i, 2);
      v[size_t(i)] = Bf16ToFloat(bits);
    }
  }
  return v;
}

std::vector<float> BindVector(TensorBinder& b, const std::string& name, int64_t n) {
  return BindValues(b, name, {n});
}

// A plain (unquantised) matrix kept in its stored BF16/F32 form.
WeightMatrix BindDenseMatrix(TensorBinder& b, const std::string& name, int64_t rows,
                             int64_t cols) {
  const TensorRef& t = b.Require(name, {DType::kBF16, DType::kF32}, {rows, cols});
  WeightMatrix w;
  w.dtype = t.dtype;
  w.rows = rows;
  w.cols = cols;
  w.data = t.data;
  return w;
}

HcMixerWeights BindHcMixer(TensorBinder& b, const std::string& p, const std::string& which,
                           const ModelConfig& c) {
  const int64_t hc = c.hc_mult, mix = (2 + hc) * hc;
  HcMixerWeights w;
  w.fn = BindDenseMatrix(b, p + "hc_" + which + "_fn", mix, hc * c.hidden_size);
  w.base = BindVector(b, p + "hc_" + which + "_base", mix);
  w.scale = BindVector(b, p + "hc_" + which + "_scale", 3);
  return w;
}

HcHeadWeights BindHcHead(TensorBinder& b, const std::string& p, const ModelConfig& c) {
  const int64_t hc = c.hc_mult;
  HcHeadWeights w;
  w.fn = BindDenseMatrix(b, p + "hc_head_fn", hc, hc * c.hidden_size);
  w.base = BindVector(b, p + "hc_head_base", hc);
  w.scale = BindVector(b, p + "hc_head_scale", 1);
  return w;
}

CompressorWeights BindCompressor(TensorBinder& b, const std::string& p, int64_t ratio,
                                 int64_t dim, const ModelConfig& c) {
  CompressorWeights w;
  w.ratio = ratio;
  w.dim = dim;
  w.coff = ratio == 4 ? 2 : 1;
  w.wkv = BindDenseMatrix(b, p + "wkv.weight", w.coff * dim, c.hidden_size);
  w.wgate = BindDenseMatrix(b, p + "wgate.weight", w.coff * dim, c.hidden_size);
  w.ape = BindValues(b, p + "ape", {ratio, w.coff * dim});
  w.norm = BindVector(b, p + "norm.weight", dim);
  return w;
}

ExpertWeights BindExpert(TensorBinder& b, const std::string& p, const ModelConfig& c,
                         bool allow_fp4) {
  ExpertWeights w;
  const int64_t D = c.hidden_size, I = c.moe_intermediate_size;
  w.w1 = b.Linear(p + "w1", I, D, allow_fp4);
  w.w2 = b.Linear(p + "w2", D, I, allow_fp4);
  w.w3 = b.Linear(p + "w3", I, D, allow_fp4);
  return w;
}

BlockWeights BindBlock(TensorBinder& b, const std::string& p, int64_t layer,
                       const ModelConfig& c) {
  const int64_t D = c.hidden_size, H = c.num_attention_heads, d = c.head_dim;
  BlockWeights w;
  w.layer = layer;
  w.hc_attn = BindHcMixer(b, p, "attn", c);
  w.hc_ffn = BindHcMixer(b, p, "ffn", c);
  w.attn_norm = BindVector(b, p + "attn_norm.weight", D);
  w.ffn_norm = BindVector(b, p + "ffn_norm.weight", D);

  AttentionWeights& a = w.attn;
  const std::string ap = p + "attn.";
  a.compress_ratio = c.CompressRatio(layer);
  a.wq_a = b.Linear(ap + "wq_a", c.q_lora_rank, D, false);
  a.q_norm = BindVector(b, ap + "q_norm.weight", c.q_lora_rank);
  a.wq_b = b.Linear(ap + "wq_b", H * d, c.q_lora_rank, false);
  a.wkv = b.Linear(ap + "wkv", d, D, false);
  a.kv_norm = BindVector(b, ap + "kv_norm.weight", d);
  a.wo_a = b.Linear(ap + "wo_a", c.o_groups * c.o_lora_rank, H * d / c.o_groups, false);
  a.wo_b = b.Linear(ap + "wo_b", D, c.o_groups * c.o_lora_rank, false);
  a.attn_sink = BindVector(b, ap + "attn_sink", H);
  if (a.compress_ratio > 0) {
    a.has_compressor = true;
    a.compressor = BindCompressor(b, ap + "compressor.", a.compress_ratio, d, c);
  }
  if (a.compress_ratio == 4) {
    a.has_indexer = true;
    const std::string ip = ap + "indexer.";
    a.indexer.wq_b = b.Linear(ip + "wq_b", c.index_n_heads * c.index_head_dim, c.q_lora_rank,
                              false);
    a.indexer.weights_proj = b.Linear(ip + "weights_proj", c.index_n_heads, D, false);
    a.indexer.compressor = BindCompressor(b, ip + "compressor.", 4, c.index_head_dim, c);
  }

  MoeWeights& m = w.ffn;
  const std::string fp = p + "ffn.";
  const int64_t E = c.n_routed_experts, k = c.num_experts_per_tok;
  m.gate = BindDenseMatrix(b, fp + "gate.weight", E, D);
  m.hash = layer < c.num_hash_layers;
  if (m.hash) {
    const TensorRef& t = b.Require(fp + "gate.tid2eid", {DType::kI64}, {c.vocab_size, k});
    m.tid2eid.resize(size_t(c.vocab_size * k));
    for (int64_t i = 0; i < c.vocab_size * k; ++i) {
      int64_t v;
      std::memcpy(&v, t.data + 8 * i, 8);
      Require(v >= 0 && v < E, t.file + ": tensor '" + t.name + "' holds expert id " +
                                   std::to_string(v) + " at row " + std::to_string(i / k) +
                                   " (expected 0.." + std::to_string(E - 1) + ")");
      m.tid2eid[size_t(i)] = int32_t(v);
    }
  } else {
    m.gate_bias = BindVector(b, fp + "gate.bias", E);
  }
  m.experts.reserve(size_t(E));
  for (int64_t e = 0; e < E; ++e) {
    m.experts.push_back(BindExpert(b, fp + "experts." + std::to_string(e) + ".", c, true));
  }
  m.shared = BindExpert(b, fp + "shared_experts.", c, false);
  return w;
}

}  // namespace

void EmbeddingRow(const ModelWeights& w, int32_t token, float* out) {
  const int64_t D = w.embed.cols;
  if (w.embed.dtype == DType::kF32) {
    std::memcpy(out, w.embed.data + size_t(token) * size_t(D) * 4, size_t(D) * 4);
    return;
  }
  const uint8_t* row = w.embed.data + size_t(token) * size_t(D) * 2;
  for (int64_t d = 0; d < D; ++d) {
    uint16_t bits;
    std::memcpy(&bits, row + 2 * d, 2);
    out[d] = Bf16ToFloat(bits);
  }
}

ModelWeights BindModelWeights(const Checkpoint& checkpoint, const ModelConfig& c) {
  TensorBinder b(checkpoint);
  ModelWeights w;
  const int64_t V = c.vocab_size, D = c.hidden_size;
  w.embed = BindDenseMatrix(b, "embed.weight", V, D);
  w.head = BindDenseMatrix(b, "head.weight", V, D);
  w.norm = BindVector(b, "norm.weight", D);
  w.hc_head = BindHcHead(b, "", c);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    w.layers.push_back(BindBlock(b, "layers." + std::to_string(l) + ".", l, c));
  }
  for (int64_t i = 0; i < c.num_nextn_predict_layers; ++i) {
    const std::string p = "mtp." + std::to_string(i) + ".";
    // A checkpoint stripped of its MTP block (some re-packagings drop it) still serves;
    // only speculative drafting and `eval --mtp-logits-out` need it. A partial block is
    // an error like any other missing tensor.
    auto first = checkpoint.tensors().lower_bound(p);
    if (first == checkpoint.tensors().end() || first->first.rfind(p, 0) != 0) break;
    MtpWeights m;
    m.block = BindBlock(b, p, c.num_hidden_layers + i, c);
    m.e_proj = b.Linear(p + "e_proj", D, D, false);
    m.h_proj = b.Linear(p + "h_proj", D, D, false);
    m.enorm = BindVector(b, p + "enorm.weight", D);
    m.hnorm = BindVector(b, p + "hnorm.weight", D);
    m.norm = BindVector(b, p + "norm.weight", D);
    m.hc_head = BindHcHead(b, p, c);
    w.mtp.push_back(std::move(m));
  }
  b.CheckAllBound();
  return w;
}

}  // namespace dsv4
