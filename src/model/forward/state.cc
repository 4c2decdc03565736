#include "model/forward/state.h"

#include <limits>

namespace dsv4 {

void CompressorState::Init(int64_t r, int64_t d, int64_t c) {
  ratio = r;
  dim = d;
  coff = c;
  Reset();
}

void CompressorState::Reset() {
  const size_t n = size_t(ratio * coff * dim);
  const float kNegInf = -std::numeric_limits<float>::infinity();
  cur_kv.assign(n, 0.0f);
  cur_score.assign(n, kNegInf);
  if (coff == 2) {
    prev_kv.assign(n, 0.0f);
    prev_score.assign(n, kNegInf);
  }
}

SequenceState::SequenceState(const ModelConfig& c, bool with_mtp) {
  const int64_t n = c.num_hidden_layers + (with_mtp ? c.num_nextn_predict_layers : 0);
  layers_.resize(size_t(n));
  for (int64_t l = 0; l < n; ++l) {
    LayerState& s = layers_[size_t(l)];
    s.head_dim = c.head_dim;
    s.window = c.sliding_window;
    const int64_t ratio = c.CompressRatio(l);
    if (ratio > 0) s.compressor.Init(ratio, c.head_dim, ratio == 4 ? 2 : 1);
    if (ratio == 4) s.index_compressor.Init(4, c.index_head_dim, 2);
  }
  Reset();
}

void SequenceState::Reset() {
  for (LayerState& s : layers_) {
    s.window_kv.assign(size_t(s.window * s.head_dim), 0);
    s.compressed.clear();
    s.index_keys.clear();
    if (s.compressor.ratio) s.compressor.Reset();
    if (s.index_compressor.ratio) s.index_compressor.Reset();
  }
  length_ = 0;
  mtp_length_ = 0;
}

int64_t SequenceState::bytes() const {
  int64_t total = 0;
  for (const LayerState& s : layers_) {
    total += int64_t(s.window_kv.size() + s.compressed.size() + s.index_keys.size()) * 2;
    total += int64_t(s.compressor.cur_kv.size() + s.compressor.prev_kv.size() +
                     s.index_compressor.cur_kv.size() + s.index_compressor.prev_kv.size()) *
             2 * 4;  // kv and score rows, fp32
  }
  return total;
}

}  // namespace dsv4
