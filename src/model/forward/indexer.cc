#include "model/forward/indexer.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/dot.h"
#include "kernels/linear.h"
#include "model/forward/compressor.h"

namespace dsv4 {

std::vector<std::vector<int32_t>> IndexerSelect(const IndexerWeights& w, const ModelConfig& c,
                                                const RopeTable& rope, const float* x,
                                                const float* cq,
                                                const std::vector<LayerRows>& segs,
                                                bool act_quant) {
  const int64_t nh = c.index_n_heads, hd = c.index_head_dim, rd = c.qk_rope_head_dim;
  const std::vector<int64_t> positions = RowPositions(segs);
  const int64_t T = int64_t(positions.size());
  const kernels::LinearOptions lin{.act_quant = act_quant, .round_bf16 = true};

  // Queries: [T, nh, hd], RoPE on each head's tail, Hadamard, Q4_32.
  std::vector<float> q(size_t(T * nh * hd));
  kernels::Linear(cq, T, w.wq_b, q.data(), lin);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < nh; ++h) {
      float* qh = &q[size_t((t * nh + h) * hd)];
      rope.Apply(qh + hd - rd, positions[size_t(t)], false);
      HadamardBf16(qh, hd);
      if (act_quant) SimulateFp4Blocks(qh, hd, 32);
    }
  }
  // Head weights: bf16(bf16(x · W_wᵀ) · (hd · nh)^-1/2).
  std::vector<float> hw(size_t(T * nh));
  kernels::Linear(x, T, w.weights_proj, hw.data(), lin);
  const float scale = float(std::pow(double(hd), -0.5) * std::pow(double(nh), -0.5));
  for (float& v : hw) v = RoundBf16(v * scale);

  std::vector<float> ckv, cscore;
  CompressorProject(w.compressor, x, T, &ckv, &cscore);
  const int64_t width = w.compressor.coff * w.compressor.dim;
  std::vector<const LayerState*> state_of_row(static_cast<size_t>(T));
  for (const LayerRows& s : segs) {
    CompressorConsume(w.compressor, CompressorKind::kIndexer, &ckv[size_t(s.row0 * width)],
                      &cscore[size_t(s.row0 * width)], s.rows, s.pos0, rope, c, act_quant,
                      &s.state->index_compressor, &s.state->index_keys);
    for (int64_t t = 0; t < s.rows; ++t) state_of_row[size_t(s.row0 + t)] = s.state;
  }

  std::vector<std::vector<int32_t>> selected(static_cast<size_t>(T));
  const kernels::DotKernels& dk = kernels::ActiveDotKernels();
  ParallelFor(size_t(T), 1, [&](size_t t0, size_t t1) {
    std::vector<float> scores;
    std::vector<int32_t> order;
    for (int64_t t = int64_t(t0); t < int64_t(t1); ++t) {
      const uint16_t* keys = state_of_row[size_t(t)]->index_keys.data();
      const int64_t visible = (positions[size_t(t)] + 1) / 4;
      const int64_t k = std::min<int64_t>(c.index_topk, visible);
      std::vector<int32_t>& sel = selected[size_t(t)];
      scores.assign(size_t(visible), 0.0f);
      for (int64_t j = 0; j < visible; ++j) {
        const uint16_t* kj = keys + j * hd;
        double total = 0.0;
        for (int64_t h = 0; h < nh; ++h) {
          float dot = dk.dot_bf16(&q[size_t((t * nh + h) * hd)], kj, hd);
          dot = std::max(RoundBf16(dot), 0.0f);
          total += RoundBf16(dot * hw[size_t(t * nh + h)]);
        }
        scores[size_t(j)] = RoundBf16(float(total));
      }
      order.resize(size_t(visible));
      std::iota(order.begin(), order.end(), 0);
      // Highest score first; ties go to the lower index.
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
        return scores[size_t(a)] > scores[size_t(b)] ||
               (scores[size_t(a)] == scores[size_t(b)] && a < b);
      });
      sel.assign(order.begin(), order.begin() + k);
    }
  });
  return selected;
}

}  // namespace dsv4
