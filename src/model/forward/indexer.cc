#include "model/forward/indexer.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/dot.h"
#include "kernels/indexer_score.h"
#include "kernels/linear.h"
#include "kernels/top_k.h"
#include "model/forward/compressor.h"
#include "model/forward/kv_codec.h"

namespace dsv4 {
namespace {

constexpr int64_t kTile = 2048;        // keys scored per kernel call
constexpr int64_t kPartKeys = 8192;    // fewest keys per thread task when splitting one row
constexpr int64_t kPartsPerThread = 4;  // most tasks per thread when splitting one row

// One row's query in FP4 form (its values are on the Q4_32 grid already), into *out
// (its vectors reused: the caller keeps one per thread).
void EncodeQuery(const float* q, const float* w, int64_t nh, int64_t hd, kernels::Fp4IndexQuery* out) {
  out->heads = nh;
  out->dim = hd;
  out->values.resize(size_t(nh * hd));
  out->exps.resize(size_t(nh * hd / 32));
  out->weights.assign(w, w + nh);
  thread_local std::vector<uint8_t> codes, scales;
  codes.resize(size_t(hd / 2));
  scales.resize(size_t(hd / 32));
  for (int64_t h = 0; h < nh; ++h) {
    EncodeFp4Key(q + h * hd, hd, codes.data(), scales.data());
    for (int64_t i = 0; i < hd; ++i) {
      const uint8_t nib = (i & 1) ? uint8_t(codes[size_t(i / 2)] >> 4) : uint8_t(codes[size_t(i / 2)] & 15);
      out->values[size_t(h * hd + i)] = int8_t(2.0f * E2m1ToFloat(nib));
    }
    for (int64_t b = 0; b < hd / 32; ++b) out->exps[size_t(h * hd / 32 + b)] = int32_t(scales[size_t(b)]) - 127;
  }
}

// Scores keys [j0, j1) of one row into `top`: FP4 keys through the exact kernel, bf16
// keys (no activation quantisation) through bf16 dot products with the same roundings.
void ScoreRange(const IndexKeys& keys, const kernels::Fp4IndexQuery* fq, const float* q,
                const float* hw, int64_t nh, int64_t hd, int64_t j0, int64_t j1,
                kernels::StreamingTopK* top) {
  alignas(64) float scores[kTile];
  const kernels::DotKernels& dk = kernels::ActiveDotKernels();
  for (int64_t t0 = j0; t0 < j1; t0 += kTile) {
    const int64_t n = std::min(kTile, j1 - t0);
    if (fq) {
      kernels::ActiveIndexerScore(*fq)(*fq, &keys.codes()[size_t(t0 * hd / 2)],
                                       &keys.scales()[size_t(t0 * hd / 32)], n, scores);
    } else {
      for (int64_t j = 0; j < n; ++j) {
        const uint16_t* kj = &keys.bf16()[size_t((t0 + j) * hd)];
        double total = 0.0;
        for (int64_t h = 0; h < nh; ++h) {
          float dot = dk.dot_bf16(q + h * hd, kj, hd);
          dot = std::max(RoundBf16(dot), 0.0f);
          total += RoundBf16(dot * hw[h]);
        }
        scores[j] = RoundBf16(float(total));
      }
    }
    top->Push(scores, n, int32_t(t0));
  }
}

}  // namespace

void IndexerSelect(const IndexerWeights& w, const ModelConfig& c, const RopeTable& rope, const float* x,
                   const float* cq, const std::vector<LayerRows>& segs, bool act_quant,
                   std::vector<std::vector<int32_t>>* selected_out) {
  const int64_t nh = c.index_n_heads, hd = c.index_head_dim, rd = c.qk_rope_head_dim;
  // Every buffer below is kept per thread from step to step (ReuseBuffer, clear / assign
  // on retained capacity): a decode step's indexer allocates nothing. Used through
  // references: in the worker lambdas a thread_local's name is the worker's own instance.
  thread_local std::vector<int64_t> positions_buffer;
  std::vector<int64_t>& positions = positions_buffer;
  RowPositions(segs, &positions);
  const int64_t T = int64_t(positions.size());
  const kernels::LinearOptions lin{.act_quant = act_quant, .round_bf16 = true};

  // Queries: [T, nh, hd], RoPE on each head's tail, Hadamard, Q4_32.
  thread_local std::vector<float> q_buffer, hw_buffer;  // ReuseBuffer
  std::vector<float>& q = ReuseBuffer(q_buffer, size_t(T * nh * hd));
  kernels::Linear(cq, T, w.wq_b, q.data(), lin);
  ForEachHeadWithAngles(rope, positions, nh, [&](size_t i, const float* cos, const float* sin) {
    float* qh = &q[i * size_t(hd)];
    rope.ApplyAngles(qh + hd - rd, cos, sin, false);
    HadamardBf16(qh, hd);
    if (act_quant) SimulateFp4Blocks(qh, hd, 32);
  });
  // Head weights: bf16(bf16(x · W_wᵀ) · (hd · nh)^-1/2).
  std::vector<float>& hw = ReuseBuffer(hw_buffer, size_t(T * nh));
  kernels::Linear(x, T, w.weights_proj, hw.data(), lin);
  const float scale = float(std::pow(double(hd), -0.5) * std::pow(double(nh), -0.5));
  for (float& v : hw) v = RoundBf16(v * scale);

  thread_local std::vector<float> ckv_buffer, cscore_buffer, keys_buffer;
  std::vector<float>&ckv = ckv_buffer, &cscore = cscore_buffer, &keys = keys_buffer;
  CompressorProject(w.compressor, x, T, &ckv, &cscore);
  const int64_t width = w.compressor.coff * w.compressor.dim;
  thread_local std::vector<const LayerState*> state_of_row_buffer;
  std::vector<const LayerState*>& state_of_row = state_of_row_buffer;
  state_of_row.resize(static_cast<size_t>(T));
  for (const LayerRows& s : segs) {
    keys.clear();
    CompressorConsume(w.compressor, CompressorKind::kIndexer, &ckv[size_t(s.row0 * width)],
                      &cscore[size_t(s.row0 * width)], s.rows, s.pos0, rope, c, act_quant,
                      &s.state->index_compressor, &keys);
    for (size_t i = 0; i < keys.size(); i += size_t(hd)) s.state->index_keys.Append(&keys[i]);
    for (int64_t t = 0; t < s.rows; ++t) state_of_row[size_t(s.row0 + t)] = s.state;
  }

  std::vector<std::vector<int32_t>>& selected = *selected_out;
  selected.resize(static_cast<size_t>(T));
  auto select_row = [&](int64_t t, bool split) {
    const IndexKeys& ik = state_of_row[size_t(t)]->index_keys;
    const int64_t visible = (positions[size_t(t)] + 1) / 4;
    const int64_t k = std::min<int64_t>(c.index_topk, visible);
    const float* qt = &q[size_t(t * nh * hd)];
    const float* ht = &hw[size_t(t * nh)];
    // (The row's query and top-k selectors: this thread's, reused. A reference, so the
    // part tasks below, on other threads, read this thread's query.)
    thread_local kernels::Fp4IndexQuery query;
    thread_local std::vector<kernels::StreamingTopK> selectors;
    kernels::Fp4IndexQuery& fq = query;
    const bool fp4 = ik.storage() == KvStorage::kCompact;
    if (fp4) EncodeQuery(qt, ht, nh, hd, &fq);
    if (visible <= k) {  // everything is selected: the scores only order the list
      split = false;
    }
    // Each part keeps its own top-k (k to ~2k candidates) and the parts are merged and
    // sorted serially, so a long row gets a few large parts rather than many small ones.
    const int64_t max_parts = kPartsPerThread * int64_t(GlobalThreadPool().size());
    const int64_t parts = split ? std::min((visible + kPartKeys - 1) / kPartKeys, max_parts) : 1;
    std::vector<kernels::StreamingTopK>& tops = selectors;
    tops.resize(size_t(std::max<int64_t>(parts, 1)));
    for (kernels::StreamingTopK& top : tops) top.Reset(k);
    auto run = [&](size_t p0, size_t p1) {
      for (size_t p = p0; p < p1; ++p) {
        const int64_t j0 = int64_t(p) * visible / parts, j1 = int64_t(p + 1) * visible / parts;
        ScoreRange(ik, fp4 ? &fq : nullptr, qt, ht, nh, hd, j0, j1, &tops[p]);
      }
    };
    if (parts > 1) {
      ParallelFor(size_t(parts), 1, run);
    } else {
      run(0, 1);
    }
    for (size_t p = 1; p < tops.size(); ++p) tops[0].Merge(tops[p]);
    tops[0].Finish(&selected[size_t(t)]);
  };
  // Many rows (prefill): a row per task. Few rows (decode): split each row's keys.
  if (T >= int64_t(2 * GlobalThreadPool().size())) {
    ParallelFor(size_t(T), 1, [&](size_t t0, size_t t1) {
      for (size_t t = t0; t < t1; ++t) select_row(int64_t(t), false);
    });
  } else {
    for (int64_t t = 0; t < T; ++t) select_row(t, true);
  }
}

}  // namespace dsv4
