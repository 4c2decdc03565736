#include "model/forward/model.h"

#include <algorithm>

#include "core/dtype.h"
#include "kernels/linear.h"
#include "model/forward/attention.h"
#include "model/forward/hyper_connection.h"
#include "model/forward/moe.h"

namespace dsv4 {

Result<std::unique_ptr<Model>> Model::Load(const std::string& dir) {
  Result<ModelConfig> config = LoadModelConfig(dir);
  if (!config.ok()) return config.status();
  Result<std::unique_ptr<Checkpoint>> ckpt = Checkpoint::Open(dir);
  if (!ckpt.ok()) return ckpt.status();
  std::unique_ptr<Model> model(new Model());
  model->config_ = std::move(config.value());
  model->checkpoint_ = std::move(ckpt.value());
  try {
    model->weights_ = BindModelWeights(*model->checkpoint_, model->config_);
  } catch (const Error& e) {
    return Result<std::unique_ptr<Model>>::Fail(e.what());
  }
  const ModelConfig& c = model->config_;
  model->rope_window_ = RopeTable(c.qk_rope_head_dim, c.rope_theta, 1.0, 0, c.rope_beta_fast,
                                  c.rope_beta_slow);
  model->rope_compressed_ =
      RopeTable(c.qk_rope_head_dim, c.compress_rope_theta, c.rope_factor,
                c.rope_original_max_position, c.rope_beta_fast, c.rope_beta_slow);
  return model;
}

const RopeTable& Model::RopeFor(int64_t layer) const {
  return config_.CompressRatio(layer) > 0 ? rope_compressed_ : rope_window_;
}

void Model::Block(const BlockWeights& w, LayerState* state, float* x, const int32_t* tokens,
                  int64_t T, int64_t pos0, const ForwardOptions& options) const {
  const ModelConfig& c = config_;
  const int64_t D = c.hidden_size;
  std::vector<float> y(size_t(T * D)), f(size_t(T * D));
  HcMix mix;
  // Attention half (§5 steps 1-2).
  HcPre(x, T, w.hc_attn, c, y.data(), &mix);
  for (int64_t t = 0; t < T; ++t) {
    RmsNorm(&y[size_t(t * D)], w.attn_norm.data(), D, float(c.rms_norm_eps), &y[size_t(t * D)]);
  }
  AttentionForward(w.attn, c, RopeFor(w.layer), y.data(), T, pos0, options, state,
                   f.data());
  HcPost(f.data(), x, T, mix, c, x);
  // FFN half (§5 steps 3-4).
  HcPre(x, T, w.hc_ffn, c, y.data(), &mix);
  for (int64_t t = 0; t < T; ++t) {
    RmsNorm(&y[size_t(t * D)], w.ffn_norm.data(), D, float(c.rms_norm_eps), &y[size_t(t * D)]);
  }
  MoeForward(w.ffn, c, y.data(), tokens, T, options.act_quant, f.data());
  HcPost(f.data(), x, T, mix, c, x);
}

void Model::Head(const float* x, int64_t T, const HcHeadWeights& hc_head,
                 const std::vector<float>& norm, float* logits) const {
  const int64_t D = config_.hidden_size;
  std::vector<float> h(size_t(T * D));
  HcHead(x, T, hc_head, config_, h.data());
  for (int64_t t = 0; t < T; ++t) {
    RmsNorm(&h[size_t(t * D)], norm.data(), D, float(config_.rms_norm_eps), &h[size_t(t * D)]);
  }
  kernels::Linear(h.data(), T, weights_.head, logits, {.act_quant = false, .round_bf16 = false});
}

void Model::Forward(std::vector<ForwardSegment>& segments, const ForwardOptions& options) const {
  const ModelConfig& c = config_;
  const int64_t D = c.hidden_size, hc = c.hc_mult, V = c.vocab_size;
  for (ForwardSegment& seg : segments) {
    const int64_t T = int64_t(seg.tokens.size());
    if (T == 0) continue;
    Require(seg.state->num_layers() >= c.num_hidden_layers, "sequence state has too few layers");
    for (int32_t tok : seg.tokens) {
      Require(tok >= 0 && tok < V, "token id " + std::to_string(tok) + " is outside the vocabulary (0.." +
                                       std::to_string(V - 1) + ")");
    }
    const int64_t pos0 = seg.state->length();
    Require(pos0 + T <= c.max_position_embeddings,
            "context of " + std::to_string(pos0 + T) + " tokens exceeds max_position_embeddings " +
                std::to_string(c.max_position_embeddings));
    // Embedding, copied into all hc streams (§3).
    std::vector<float> x(size_t(T * hc * D));
    for (int64_t t = 0; t < T; ++t) {
      const uint16_t* e = weights_.embed + int64_t(seg.tokens[size_t(t)]) * D;
      for (int64_t j = 0; j < hc; ++j) {
        for (int64_t d = 0; d < D; ++d) x[size_t((t * hc + j) * D + d)] = Bf16ToFloat(e[d]);
      }
    }
    for (const BlockWeights& bw : weights_.layers) {
      Block(bw, &seg.state->layer(bw.layer), x.data(), seg.tokens.data(), T, pos0, options);
    }
    seg.state->set_length(pos0 + T);
    if (seg.hidden) seg.hidden->assign(x.begin(), x.end());
    if (seg.logits) {
      const int64_t first = seg.all_logits ? 0 : T - 1;
      seg.logits->resize(size_t((T - first) * V));
      Head(&x[size_t(first * hc * D)], T - first, weights_.hc_head, weights_.norm, seg.logits->data());
    }
  }
}

void Model::ForwardMtp(std::vector<MtpSegment>& segments, const ForwardOptions& options) const {
  Require(has_mtp(), "this checkpoint has no MTP layer");
  const ModelConfig& c = config_;
  const MtpWeights& m = weights_.mtp[0];
  const int64_t D = c.hidden_size, hc = c.hc_mult, V = c.vocab_size;
  const kernels::LinearOptions lin{.act_quant = options.act_quant, .round_bf16 = true};
  for (MtpSegment& seg : segments) {
    const int64_t T = int64_t(seg.next_tokens.size());
    if (T == 0) continue;
    Require(int64_t(seg.hidden.size()) == T * hc * D, "MTP hidden states have the wrong size");
    Require(seg.state->num_layers() > c.num_hidden_layers, "sequence state has no MTP layer");
    for (int32_t tok : seg.next_tokens) {
      Require(tok >= 0 && tok < V, "token id " + std::to_string(tok) + " is outside the vocabulary");
    }
    const int64_t pos0 = seg.state->mtp_length();
    // e = enorm(embed[t_next]); h_j = hnorm(H_j); X_j = bf16(e_proj·e + h_proj·h_j) (§9).
    std::vector<float> e(size_t(T * D)), h(size_t(T * hc * D));
    for (int64_t t = 0; t < T; ++t) {
      const uint16_t* row = weights_.embed + int64_t(seg.next_tokens[size_t(t)]) * D;
      for (int64_t d = 0; d < D; ++d) e[size_t(t * D + d)] = Bf16ToFloat(row[d]);
      RmsNorm(&e[size_t(t * D)], m.enorm.data(), D, float(c.rms_norm_eps), &e[size_t(t * D)]);
    }
    for (int64_t r = 0; r < T * hc; ++r) {
      RmsNorm(&seg.hidden[size_t(r * D)], m.hnorm.data(), D, float(c.rms_norm_eps), &h[size_t(r * D)]);
    }
    std::vector<float> pe(size_t(T * D)), x(size_t(T * hc * D));
    kernels::Linear(e.data(), T, m.e_proj, pe.data(), lin);
    kernels::Linear(h.data(), T * hc, m.h_proj, x.data(), lin);
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t j = 0; j < hc; ++j) {
        for (int64_t d = 0; d < D; ++d) {
          float& v = x[size_t((t * hc + j) * D + d)];
          v = RoundBf16(pe[size_t(t * D + d)] + v);
        }
      }
    }
    Block(m.block, &seg.state->layer(c.num_hidden_layers), x.data(), seg.next_tokens.data(), T,
          pos0, options);
    seg.state->set_mtp_length(pos0 + T);
    if (seg.logits) {
      seg.logits->resize(size_t(T * V));
      Head(x.data(), T, m.hc_head, m.norm, seg.logits->data());
    }
  }
}

}  // namespace dsv4
