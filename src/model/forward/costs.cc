#include "model/forward/costs.h"

#include <algorithm>
#include <string>

namespace dsv4 {

int64_t WeightBytesPerToken(const Checkpoint& checkpoint, const ModelConfig& c) {
  double bytes = 0;
  const double expert_share = double(c.num_experts_per_tok) / double(c.n_routed_experts);
  for (const auto& [name, t] : checkpoint.tensors()) {
    if (name.rfind("mtp.", 0) == 0) continue;
    if (name == "embed.weight") {
      bytes += double(t->nbytes) / double(c.vocab_size);
    } else if (name.find(".ffn.gate.tid2eid") != std::string::npos) {
      bytes += double(t->nbytes) / double(c.vocab_size);
    } else if (name.find(".ffn.experts.") != std::string::npos) {
      bytes += double(t->nbytes) * expert_share;
    } else {
      bytes += double(t->nbytes);
    }
  }
  return int64_t(bytes + 0.5);
}

namespace {

int64_t EntryBytes(const ModelConfig& c, KvStorage storage) {
  return KvEntries::EntryBytes(storage, c.head_dim, c.qk_rope_head_dim);
}

int64_t KeyBytes(const ModelConfig& c, KvStorage storage) {
  return IndexKeys::KeyBytes(storage, c.index_head_dim);
}

}  // namespace

double KvBytesPerToken(const ModelConfig& c, KvStorage storage) {
  double bytes = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const int64_t ratio = c.CompressRatio(l);
    if (ratio == 0) continue;
    bytes += double(EntryBytes(c, storage)) / double(ratio);
    if (ratio == 4) bytes += double(KeyBytes(c, storage)) / 4.0;
  }
  return bytes;
}

int64_t KvBytesAt(const ModelConfig& c, int64_t n, KvStorage storage) {
  int64_t bytes = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const int64_t ratio = c.CompressRatio(l);
    bytes += c.sliding_window * EntryBytes(c, storage);  // the window ring
    if (ratio == 0) continue;
    const int64_t coff = ratio == 4 ? 2 : 1;
    // Compressor partial blocks: current (+ previous when overlapping), kv and score, fp32.
    bytes += ratio * coff * c.head_dim * coff * 2 * 4;
    bytes += (n / ratio) * EntryBytes(c, storage);
    if (ratio == 4) {
      bytes += 4 * 2 * c.index_head_dim * 2 * 2 * 4;  // indexer compressor partials
      bytes += (n / 4) * KeyBytes(c, storage);
    }
  }
  return bytes;
}

int64_t KvReadBytesPerToken(const ModelConfig& c, int64_t n, KvStorage storage) {
  int64_t bytes = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const int64_t ratio = c.CompressRatio(l);
    int64_t keys = std::min(n, c.sliding_window);
    if (ratio == 4) {
      keys += std::min(c.index_topk, n / 4);
      bytes += (n / 4) * KeyBytes(c, storage);  // the indexer scans every key
    } else if (ratio > 0) {
      keys += n / ratio;
    }
    bytes += keys * EntryBytes(c, storage);
  }
  return bytes;
}

double MacsPerToken(const ModelConfig& c, int64_t n) {
  const double D = double(c.hidden_size), H = double(c.num_attention_heads), d = double(c.head_dim);
  const double q_r = double(c.q_lora_rank), G = double(c.o_groups), o_r = double(c.o_lora_rank);
  const double I = double(c.moe_intermediate_size), hc = double(c.hc_mult);
  double macs = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const int64_t ratio = c.CompressRatio(l);
    macs += q_r * D + H * d * q_r + d * D + G * o_r * (H * d / G) + D * G * o_r;  // attention
    macs += 2 * (2 + hc) * hc * hc * D;                                          // HC mixers
    macs += double(c.n_routed_experts) * D;                                      // router
    macs += double(c.num_experts_per_tok + 1) * 3 * I * D;                      // experts
    double keys = double(std::min(n, c.sliding_window));
    if (ratio > 0) macs += 2 * (ratio == 4 ? 2 : 1) * d * D;                     // compressor
    if (ratio == 4) {
      const double hi = double(c.index_n_heads), di = double(c.index_head_dim);
      macs += hi * di * q_r + hi * D + 2 * 2 * di * D + hi * di * double(n / 4);
      keys += double(std::min(c.index_topk, n / 4));
    } else if (ratio > 0) {
      keys += double(n / ratio);
    }
    macs += H * d * 2 * keys;  // scores and P·V
  }
  return macs;
}

}  // namespace dsv4
