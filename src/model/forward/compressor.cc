#include "model/forward/compressor.h"

#include <algorithm>
#include <cmath>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/linear.h"

namespace dsv4 {
namespace {

// Pools the candidates of one block into e: [dim] (fp32), per channel a softmax over
// the candidates' scores. Overlap: block j-1's first half, then block j's second half.
void Pool(const CompressorState& s, float* e) {
  const int64_t m = s.ratio, d = s.dim, width = s.coff * d;
  thread_local std::vector<float> kv, sc;  // kept per thread: no heap allocation per block
  kv.reserve(size_t(2 * m));
  sc.reserve(size_t(2 * m));
  for (int64_t u = 0; u < d; ++u) {
    kv.clear();
    sc.clear();
    if (s.coff == 2) {
      for (int64_t r = 0; r < m; ++r) {
        kv.push_back(s.prev_kv[size_t(r * width + u)]);
        sc.push_back(s.prev_score[size_t(r * width + u)]);
      }
      for (int64_t r = 0; r < m; ++r) {
        kv.push_back(s.cur_kv[size_t(r * width + d + u)]);
        sc.push_back(s.cur_score[size_t(r * width + d + u)]);
      }
    } else {
      for (int64_t r = 0; r < m; ++r) {
        kv.push_back(s.cur_kv[size_t(r * width + u)]);
        sc.push_back(s.cur_score[size_t(r * width + u)]);
      }
    }
    // softmax (fp32 exps, f64 sum) then the f64 sum of fp32 products, as the reference.
    float mx = *std::max_element(sc.begin(), sc.end());
    double zsum = 0.0;
    for (float& v : sc) {
      v = Exp32(v - mx);
      zsum += v;
    }
    const float z = float(zsum);
    double acc = 0.0;
    for (size_t i = 0; i < kv.size(); ++i) acc += double(kv[i] * (sc[i] / z));
    e[u] = float(acc);
  }
}

}  // namespace

void CompressorProject(const CompressorWeights& w, const float* x, int64_t T,
                       std::vector<float>* kv, std::vector<float>* score) {
  const int64_t width = w.coff * w.dim;
  // fp32 outputs: the reference holds wkv/wgate in fp32.
  const kernels::LinearOptions fp32{.act_quant = false, .round_bf16 = false};
  kv->resize(size_t(T * width));
  score->resize(size_t(T * width));
  kernels::Linear(x, T, w.wkv, kv->data(), fp32);
  kernels::Linear(x, T, w.wgate, score->data(), fp32);
}

void CompressorConsume(const CompressorWeights& w, CompressorKind kind, const float* kv,
                       const float* score, int64_t T, int64_t pos0, const RopeTable& rope,
                       const ModelConfig& c, bool act_quant, CompressorState* state,
                       std::vector<float>* entries) {
  const int64_t m = w.ratio, d = w.dim, width = w.coff * d;
  const int64_t rd = c.qk_rope_head_dim;
  DSV4_CHECK(state->ratio == m && state->dim == d);

  thread_local std::vector<float> e;  // kept per thread: no heap allocation per call
  e.resize(static_cast<size_t>(d));
  for (int64_t t = 0; t < T; ++t) {
    const int64_t pos = pos0 + t, slot = pos % m;
    const float* ape = &w.ape[size_t(slot * width)];
    for (int64_t i = 0; i < width; ++i) {
      state->cur_kv[size_t(slot * width + i)] = kv[t * width + i];
      state->cur_score[size_t(slot * width + i)] = score[t * width + i] + ape[i];
    }
    if ((pos + 1) % m != 0) continue;

    Pool(*state, e.data());
    if (w.coff == 2) {
      state->prev_kv = state->cur_kv;
      state->prev_score = state->cur_score;
    }
    // Entry j = (pos+1)/m - 1 sits at its block's first position, j·m.
    const int64_t entry_pos = pos + 1 - m;
    for (float& v : e) v = RoundBf16(v);
    RmsNorm(e.data(), w.norm.data(), d, float(c.rms_norm_eps), e.data());
    rope.Apply(e.data() + d - rd, entry_pos, false);
    if (kind == CompressorKind::kAttention) {
      if (act_quant) SimulateFp8Blocks(e.data(), d - rd, 64);
    } else {
      HadamardBf16(e.data(), d);
      if (act_quant) SimulateFp4Blocks(e.data(), d, 32);
    }
    entries->insert(entries->end(), e.begin(), e.end());
  }
}

}  // namespace dsv4
