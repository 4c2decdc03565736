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

double KvBytesPerToken(const ModelConfig& c) {
  double bytes = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const int64_t ratio = c.CompressRatio(l);
    if (ratio == 0) continue;
    bytes += double(c.head_dim * 2) / double(ratio);
    if (ratio == 4) bytes += double(c.index_head_dim * 2) / 4.0;
  }
  return bytes;
}

int64_t KvBytesAt(const ModelConfig& c, int64_t n) {
  int64_t bytes = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const int64_t ratio = c.CompressRatio(l);
    bytes += std::min(n, c.sliding_window) * c.head_dim * 2;
    if (ratio == 0) continue;
    bytes += (n / ratio) * c.head_dim * 2;
    if (ratio == 4) bytes += (n / 4) * c.index_head_dim * 2;
  }
  return bytes;
}

}  // namespace dsv4
