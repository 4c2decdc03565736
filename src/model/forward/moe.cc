#include "model/forward/moe.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "kernels/linear.h"
#include "kernels/precision.h"
#include "kernels/swiglu.h"
#include "model/forward/ops.h"

namespace dsv4 {
namespace {

// Buffers of one MoE call, kept per thread so the steady state allocates nothing
// (vectors keep their capacity across steps).
struct MoeScratch {
  std::vector<float> logits, weights, xe, ye, g, u, scores, g_all;
  std::vector<int32_t> ids, order, active;
  std::vector<int64_t> offsets, slots;
  std::vector<int32_t> filled;
  std::vector<const ExpertWeights*> experts;
  std::vector<const float*> row_weights;
  // Each expert's tokens and routing weights, expert by expert: expert e's are entries
  // expert_start[e] .. expert_start[e + 1] - 1 of expert_rows / expert_weights.
  std::vector<int64_t> expert_start, expert_fill, expert_rows;
  std::vector<float> expert_weights;
  // ExpertsSliced: inputs packed for the experts' w1/w3 (x_pack_of[j]: expert j's
  // packing, of x_pack_input's rows; ok: packing applied), each expert's SwiGlu output
  // packed for its w2, and each expert's first row of its outputs.
  std::vector<kernels::PackedActivations> x_packed, h_packed;
  std::vector<char> x_packed_ok, h_packed_ok;
  std::vector<size_t> x_pack_of;
  std::vector<const float*> x_pack_input, inputs;
  std::vector<int64_t> input_rows, first_row;
};
MoeScratch& Scratch() {
  thread_local MoeScratch scratch;
  return scratch;
}

// g[t, i] = bf16(weight_t · silu(min(g, λ)) · clamp(u, ±λ)), in place over g: [T, I].
// row_weights may be null (shared expert: weight 1, not applied). Precise mode: silu with
// exp in double, as the reference; the fast mode's fp32 arithmetic is kernels/swiglu.h.
void SwiGlu(float* g, const float* u, int64_t T, int64_t I, const float* row_weights, float lim) {
  if (!kernels::PreciseMath()) return kernels::ActiveSwiGlu()(g, u, T, I, row_weights, lim);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < I; ++i) {
      float gv = g[t * I + i], uv = u[t * I + i];
      if (lim > 0) {
        uv = std::clamp(uv, -lim, lim);
        gv = std::min(gv, lim);
      }
      float h = Silu32(gv) * uv;
      if (row_weights) h = row_weights[t] * h;
      g[t * I + i] = RoundBf16(h);
    }
  }
}

// out: [T, D] bf16 = w2 · SwiGlu(w1·x, w3·x).
void ExpertForward(const ExpertWeights& w, const ModelConfig& c, const float* x, int64_t T,
                   const float* row_weights, bool act_quant, float* out) {
  const int64_t I = c.moe_intermediate_size;
  const kernels::LinearOptions lin{.act_quant = act_quant, .round_bf16 = true};
  std::vector<float>& g = Scratch().g;
  std::vector<float>& u = Scratch().u;
  g.resize(size_t(T * I));
  u.resize(size_t(T * I));
  kernels::Linear(x, T, w.w1, g.data(), lin);
  kernels::Linear(x, T, w.w3, u.data(), lin);
  // Rows over the pool (inline inside an expert task): the shared expert's SwiGlu at
  // batch 16 was ~0.6 ms of the engine thread alone per step (perf).
  ParallelFor(size_t(T), 2, [&](size_t t0, size_t t1) {
    SwiGlu(&g[t0 * size_t(I)], &u[t0 * size_t(I)], int64_t(t1 - t0), I, row_weights ? row_weights + t0 : nullptr,
           float(c.swiglu_limit));
  });
  kernels::Linear(g.data(), T, w.w2, out, lin);
}

// Few experts for the threads (decode at batch 1, and small batches on many cores): the
// routed experts and the shared one, each ExpertForward's arithmetic on its own tokens,
// as two pool loops over slices of their rows (all gate/up rows with SwiGlu, then all
// down rows) instead of three loops per expert: 2 hand-offs instead of 21 a layer at
// batch 1. At batch 4 on 16 threads (~23 experts of 1-2 tokens, fewer than the 4 per
// thread that one expert per task needs to balance) each expert's three products were
// pool loops of their own: ~70 a layer, each a 4 MB matrix split 16 ways.
// The activations are quantised and packed once (x for each weight format of w1/w3 where
// experts share their input, else each expert's rows; each expert's SwiGlu output for its
// w2) rather than by every slice's product: that took ~8% of the layer's samples against
// 64% in the weight kernels (perf); LinearRowsPacked gives LinearRows' bits.
// Expert j multiplies rows[j] input rows at xs[j] ([rows[j], D]); its outputs go to
// ye + first * D, first = rows[0] + .. + rows[j - 1], one row per input row.
void ExpertsSliced(const std::vector<const ExpertWeights*>& experts, const std::vector<const float*>& xs,
                   const std::vector<int64_t>& rows, const std::vector<const float*>& row_weights,
                   const ModelConfig& c, bool act_quant, float* ye) {
  // Rows per task: 256 rather than 512 or 1024 (56 / 28 / 14 gate-up tasks on V4-Flash's
  // 7 experts at batch 1): each thread's last task is shorter, the other thread's wait at
  // the loop's end too. MoE layer alone, decode_profile --moe 48, 4 interleaved runs, p50
  // ms per layer: 512 rows 2.72-3.17, 256 rows 2.52-2.78; 1024 2.78-2.91 (vs 2.73-2.75),
  // 128 2.75-4.71.
  constexpr int64_t kSlice = 256;
  const int64_t I = c.moe_intermediate_size, D = c.hidden_size;
  const size_t J = experts.size();
  const kernels::LinearOptions lin{.act_quant = act_quant, .round_bf16 = true};
  MoeScratch& s = Scratch();
  // Each expert's first row in g (rows x I) and in ye (rows x D).
  s.first_row.assign(J + 1, 0);
  for (size_t j = 0; j < J; ++j) s.first_row[j + 1] = s.first_row[j] + rows[j];
  std::vector<float>& g = s.g_all;
  g.resize(size_t(s.first_row[J] * I));
  // Inputs packed for each expert's w1/w3 format, once per distinct (input, format): at
  // batch 1 every expert reads the one token, so one packing per format.
  // (Grown, never shrunk: the number of experts changes from step to step, and a
  // PackedActivations dropped and made again allocates its buffers again.)
  s.x_pack_of.resize(J);
  if (s.x_packed.size() < J) s.x_packed.resize(J);
  s.x_packed_ok.resize(J);
  size_t packs = 0;
  for (size_t j = 0; j < J; ++j) {
    const DType dtype = experts[j]->w1.dtype;
    DSV4_CHECK(experts[j]->w3.dtype == dtype);
    size_t p = 0;
    while (p < packs && !(s.x_packed[p].dtype == dtype && s.x_pack_input[p] == xs[j] && s.x_packed[p].rows == rows[j])) ++p;
    if (p == packs) {
      s.x_pack_input.resize(std::max(s.x_pack_input.size(), packs + 1));
      s.x_pack_input[p] = xs[j];
      s.x_packed[p].dtype = dtype;
      s.x_packed[p].rows = rows[j];
      ++packs;
    }
    s.x_pack_of[j] = p;
  }
  // (Inline below 8 packings: at batch 1, one row for each of two formats.)
  ParallelFor(packs, 4, [&](size_t p0, size_t p1) {
    for (size_t p = p0; p < p1; ++p) {
      kernels::PackedActivations& x = s.x_packed[p];
      const DType dtype = x.dtype;
      const int64_t n = x.rows;
      s.x_packed_ok[p] = kernels::PackActivations(s.x_pack_input[p], n, D, dtype, act_quant, &x);
      x.dtype = dtype;
      x.rows = n;
    }
  });
  // Rows r0..r1 of expert j's matrix m times its input ([rows[j], r1 - r0] into out).
  auto product = [&](size_t j, const kernels::WeightMatrix& m, const kernels::PackedActivations& packed, bool ok,
                     const float* x, int64_t r0, int64_t r1, float* out) {
    if (ok) return kernels::LinearRowsPacked(packed, m, r0, r1, out, lin);
    kernels::LinearRows(x, rows[j], m, r0, r1, out, lin);
  };
  // A task takes the same slice of rows of w1 and w3, then applies SwiGlu to it (per
  // element, so per slice: no serial pass over all experts between the two loops).
  const int64_t up_slices = (I + kSlice - 1) / kSlice;
  ParallelFor(J * size_t(up_slices), 1, [&](size_t b, size_t end) {
    thread_local std::vector<float> gt, ut;
    for (size_t task = b; task < end; ++task) {
      const size_t j = task / size_t(up_slices);
      const int64_t r0 = int64_t(task % size_t(up_slices)) * kSlice, r1 = std::min(I, r0 + kSlice), n = r1 - r0;
      const size_t p = s.x_pack_of[j];
      gt.resize(size_t(rows[j] * n));
      ut.resize(size_t(rows[j] * n));
      product(j, experts[j]->w1, s.x_packed[p], s.x_packed_ok[p], xs[j], r0, r1, gt.data());
      product(j, experts[j]->w3, s.x_packed[p], s.x_packed_ok[p], xs[j], r0, r1, ut.data());
      SwiGlu(gt.data(), ut.data(), rows[j], n, row_weights[j], float(c.swiglu_limit));
      for (int64_t t = 0; t < rows[j]; ++t) {
        std::copy_n(&gt[size_t(t * n)], n, &g[size_t((s.first_row[j] + t) * I + r0)]);
      }
    }
  });
  if (s.h_packed.size() < J) s.h_packed.resize(J);
  s.h_packed_ok.resize(J);
  ParallelFor(J, 1, [&](size_t j0, size_t j1) {
    for (size_t j = j0; j < j1; ++j) {
      s.h_packed_ok[j] = kernels::PackActivations(&g[size_t(s.first_row[j] * I)], rows[j], I, experts[j]->w2.dtype,
                                                  act_quant, &s.h_packed[j]);
    }
  });
  const int64_t down_slices = (D + kSlice - 1) / kSlice;
  ParallelFor(J * size_t(down_slices), 1, [&](size_t b, size_t end) {
    thread_local std::vector<float> yt;
    for (size_t task = b; task < end; ++task) {
      const size_t j = task / size_t(down_slices);
      const int64_t r0 = int64_t(task % size_t(down_slices)) * kSlice, r1 = std::min(D, r0 + kSlice), n = r1 - r0;
      yt.resize(size_t(rows[j] * n));
      product(j, experts[j]->w2, s.h_packed[j], s.h_packed_ok[j], &g[size_t(s.first_row[j] * I)], r0, r1, yt.data());
      for (int64_t t = 0; t < rows[j]; ++t) {
        std::copy_n(&yt[size_t(t * n)], n, ye + (s.first_row[j] + t) * D + r0);
      }
    }
  });
}

}  // namespace

void Route(const MoeWeights& w, const ModelConfig& c, const float* logits, int32_t token,
           int32_t* ids, float* weights) {
  const int64_t E = c.n_routed_experts, k = c.num_experts_per_tok;
  std::vector<float>& scores = Scratch().scores;
  scores.resize(static_cast<size_t>(E));
  for (int64_t e = 0; e < E; ++e) {
    scores[size_t(e)] = std::sqrt(Softplus32(logits[e]));
  }
  if (w.hash) {
    for (int64_t i = 0; i < k; ++i) ids[i] = w.tid2eid[size_t(token * k + i)];
  } else {
    std::vector<int32_t>& order = Scratch().order;
    order.resize(static_cast<size_t>(E));
    std::iota(order.begin(), order.end(), 0);
    auto biased = [&](int32_t e) { return scores[size_t(e)] + w.gate_bias[size_t(e)]; };
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
      float sa = biased(a), sb = biased(b);
      return sa > sb || (sa == sb && a < b);
    });
    std::copy(order.begin(), order.begin() + k, ids);
  }
  double sum = 0.0;
  for (int64_t i = 0; i < k; ++i) sum += scores[size_t(ids[i])];
  for (int64_t i = 0; i < k; ++i) {
    weights[i] = scores[size_t(ids[i])] / float(sum) * float(c.routed_scaling_factor);
  }
}

void MoeForward(const MoeWeights& w, const ModelConfig& c, const float* y, const int32_t* tokens,
                int64_t T, bool act_quant, float* out) {
  const int64_t D = c.hidden_size, E = c.n_routed_experts, k = c.num_experts_per_tok;
  MoeScratch& s = Scratch();
  std::vector<float>& logits = s.logits;
  logits.resize(size_t(T * E));
  kernels::Linear(y, T, w.gate, logits.data(), {.act_quant = false, .round_bf16 = false});
  std::vector<int32_t>& ids = s.ids;
  std::vector<float>& weights = s.weights;
  ids.resize(size_t(T * k));
  weights.resize(size_t(T * k));
  // Tokens over the pool (Route's scratch is per thread): 256 softplus/sqrt per token
  // were ~0.4 ms of the engine thread alone per batch-16 step.
  ParallelFor(size_t(T), 4, [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      Route(w, c, &logits[t * size_t(E)], tokens[t], &ids[t * size_t(k)], &weights[t * size_t(k)]);
    }
  });

  // Tokens of each expert, gathered so the expert's weights are read once per step: a
  // counting sort into flat arrays, tokens in order within an expert (a vector per expert
  // allocated the first time each of V4's 256 experts was routed to: ~9 allocations a
  // decode step on the benchmark model, decode_profile).
  std::vector<int64_t>& start = s.expert_start;
  std::vector<int64_t>& fill = s.expert_fill;
  std::vector<int64_t>& expert_rows = s.expert_rows;
  std::vector<float>& expert_weights = s.expert_weights;
  start.assign(size_t(E + 1), 0);
  for (int64_t j = 0; j < T * k; ++j) ++start[size_t(ids[size_t(j)] + 1)];
  for (int64_t e = 0; e < E; ++e) start[size_t(e + 1)] += start[size_t(e)];
  fill.assign(start.begin(), start.end() - 1);
  expert_rows.resize(size_t(T * k));
  expert_weights.resize(size_t(T * k));
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < k; ++i) {
      const int64_t at = fill[size_t(ids[size_t(t * k + i)])]++;
      expert_rows[size_t(at)] = t;
      expert_weights[size_t(at)] = weights[size_t(t * k + i)];
    }
  }
  // Expert e's tokens and their routing weights.
  auto rows_of = [&](int32_t e) {
    return std::span<const int64_t>(expert_rows.data() + start[size_t(e)], size_t(start[size_t(e) + 1] - start[size_t(e)]));
  };
  auto weights_of = [&](int32_t e) { return expert_weights.data() + start[size_t(e)]; };
  std::vector<int32_t>& active = s.active;
  active.clear();
  for (int64_t e = 0; e < E; ++e) {
    if (start[size_t(e + 1)] > start[size_t(e)]) active.push_back(int32_t(e));
  }
  // Each active expert's rows gathered into one block of xe; its outputs go to the same
  // block of ye. Three ways to run the experts, all with each expert's own arithmetic (so
  // the result does not depend on the way or on the batch).
  std::vector<int64_t>& off = s.offsets;
  off.assign(active.size() + 1, 0);
  for (size_t i = 0; i < active.size(); ++i) off[i + 1] = off[i] + int64_t(rows_of(active[i]).size());
  std::vector<float>& xe = s.xe;
  std::vector<float>& ye = s.ye;
  ye.resize(size_t((off.back() + T) * D));  // + the shared expert's T rows
  float* shared_out = &ye[size_t(off.back() * D)];
  ThreadPool& pool = GlobalThreadPool();
  // Decode at batch 1, and fewer experts than 2 per thread (small batches on many cores):
  // all of them in two pool loops over slices of their rows (ExpertsSliced); ye's blocks
  // are in order, the shared expert's (no routing weight) last. Against three pool loops
  // per expert, paired decode steps (decode_profile --ab 30) on a 16-core Xeon (the
  // device machine, 2026-11-30): batch 2 (~12 experts) 0.924, batch 4 (~23) 0.964 and
  // 0.941, batch 8 (~44) 0.921; on 8 of its threads batch 4 1.033, which the 2-per-thread
  // rule leaves on the per-expert path (as it does batch 8 on 16).
  const bool sliced = T == 1 || active.size() < 2 * pool.size();
  xe.resize(size_t(off.back() * D));
  if (pool.size() > 1 && sliced) {
    s.experts.clear();
    s.row_weights.clear();
    s.inputs.clear();
    s.input_rows.clear();
    for (size_t i = 0; i < active.size(); ++i) {
      const int32_t e = active[i];
      const std::span<const int64_t> rows = rows_of(e);
      if (T == 1) {
        s.inputs.push_back(y);  // the one token: no gathering
      } else {
        for (size_t r = 0; r < rows.size(); ++r) {
          std::copy(y + rows[r] * D, y + (rows[r] + 1) * D, &xe[size_t((off[i] + int64_t(r)) * D)]);
        }
        s.inputs.push_back(&xe[size_t(off[i] * D)]);
      }
      s.input_rows.push_back(int64_t(rows.size()));
      s.experts.push_back(&w.experts[size_t(e)]);
      s.row_weights.push_back(weights_of(e));
    }
    s.experts.push_back(&w.shared);
    s.row_weights.push_back(nullptr);
    s.inputs.push_back(y);
    s.input_rows.push_back(T);
    ExpertsSliced(s.experts, s.inputs, s.input_rows, s.row_weights, c, act_quant, ye.data());
  } else {
    auto run_expert = [&](size_t i) {
      const int32_t e = active[i];
      // The expert's rows gathered by the task that runs it (in parallel, and into its
      // cache just before use; gathering all 3072 rows of a prefill chunk up front was
      // serial work of the engine thread).
      const std::span<const int64_t> rows = rows_of(e);
      for (size_t r = 0; r < rows.size(); ++r) {
        std::copy(y + rows[r] * D, y + (rows[r] + 1) * D, &xe[size_t((off[i] + int64_t(r)) * D)]);
      }
      ExpertForward(w.experts[size_t(e)], c, &xe[size_t(off[i] * D)], off[i + 1] - off[i],
                    weights_of(e), act_quant, &ye[size_t(off[i] * D)]);
    };
    if (pool.size() > 1 && active.size() >= 4 * pool.size()) {
      // Many experts (batched decode: ~80 of 256 per layer at 16 streams; prefill: all):
      // one expert per task, its three products on one thread (nested loops run inline),
      // instead of three pool loops of a few hundred microseconds per expert.
      pool.ParallelFor(active.size(), 1, [&](size_t b, size_t end) {
        for (size_t i = b; i < end; ++i) run_expert(i);
      }, /*max_chunk=*/1);
    } else {
      for (size_t i = 0; i < active.size(); ++i) run_expert(i);  // each product split across threads
    }
    ExpertForward(w.shared, c, y, T, nullptr, act_quant, shared_out);
  }
  // out[t] = bf16(Σ routed outputs in ascending expert id (as the reference sums) + the
  // shared one). Each token's k rows of ye listed in that order, then tokens split over
  // the pool.
  std::vector<int64_t>& slots = s.slots;
  std::vector<int32_t>& filled = s.filled;
  slots.resize(size_t(T * k));
  filled.assign(size_t(T), 0);
  for (size_t i = 0; i < active.size(); ++i) {
    const std::span<const int64_t> rows = rows_of(active[i]);
    for (size_t r = 0; r < rows.size(); ++r) {
      slots[size_t(rows[r] * k + filled[size_t(rows[r])]++)] = off[i] + int64_t(r);
    }
  }
  ParallelFor(size_t(T), 4, [&](size_t t0, size_t t1) {
    thread_local std::vector<float> acc;
    acc.resize(size_t(D));
    for (size_t t = t0; t < t1; ++t) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t j = 0; j < k; ++j) {
        const float* v = &ye[size_t(slots[t * size_t(k) + size_t(j)] * D)];
        for (int64_t d = 0; d < D; ++d) acc[size_t(d)] += v[d];
      }
      for (int64_t d = 0; d < D; ++d) out[t * size_t(D) + size_t(d)] = RoundBf16(acc[size_t(d)] + shared_out[t * size_t(D) + size_t(d)]);
    }
  });
}

}  // namespace dsv4
