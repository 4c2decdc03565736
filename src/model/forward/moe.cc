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
  std::vector<float> logits, weights, xe, ye, g, u, scores, g_all, u_all;
  std::vector<int32_t> ids, order, active;
  std::vector<int64_t> offsets, slots;
  std::vector<int32_t> filled;
  std::vector<const ExpertWeights*> experts;
  std::vector<const float*> row_weights;
  // Each expert's tokens and routing weights, expert by expert: expert e's are entries
  // expert_start[e] .. expert_start[e + 1] - 1 of expert_rows / expert_weights.
  std::vector<int64_t> expert_start, expert_fill, expert_rows;
  std::vector<float> expert_weights;
  // ExpertsOneToken: x packed for each weight format of the experts' w1/w3 (ok: packing
  // applied), and each expert's SwiGlu output packed for its w2.
  std::vector<kernels::PackedActivations> x_packed, h_packed;
  std::vector<char> x_packed_ok, h_packed_ok;
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

// One token (decode at batch 1): the routed experts and the shared one, each
// ExpertForward's arithmetic, as two pool loops over slices of rows (all gate/up rows with
// SwiGlu, then all down rows) instead of three loops per expert: 2 hand-offs instead of
// 21 a layer.
// The activations are quantised and packed once (x for each weight format of w1/w3, each
// expert's SwiGlu output for its w2) rather than by every slice's product: that took ~8%
// of the layer's samples against 64% in the weight kernels (perf); LinearRowsPacked gives
// LinearRows' bits.
// ye: [experts.size(), D], one row per expert.
void ExpertsOneToken(const std::vector<const ExpertWeights*>& experts,
                     const std::vector<const float*>& row_weights, const ModelConfig& c,
                     const float* x, bool act_quant, float* ye) {
  // Rows per task: 256 rather than 512 or 1024 (56 / 28 / 14 gate-up tasks on V4-Flash's
  // 7 experts): each thread's last task is shorter, the other thread's wait at the loop's
  // end too. MoE layer alone, decode_profile --moe 48, 4 interleaved runs, p50 ms per
  // layer: 512 rows 2.72-3.17, 256 rows 2.52-2.78; 1024 2.78-2.91 (vs 2.73-2.75), 128
  // 2.75-4.71.
  constexpr int64_t kSlice = 256;
  const int64_t I = c.moe_intermediate_size, D = c.hidden_size;
  const int64_t J = int64_t(experts.size());
  const kernels::LinearOptions lin{.act_quant = act_quant, .round_bf16 = true};
  MoeScratch& s = Scratch();
  std::vector<float>& g = s.g_all;
  std::vector<float>& u = s.u_all;
  g.resize(size_t(J * I));
  u.resize(size_t(J * I));
  // x packed for each distinct format of w1/w3 (routed FP4, shared FP8 as shipped), here
  // before the tasks, which only look them up.
  constexpr int kFormatsMax = 3;  // BF16, FP8, FP4
  s.x_packed.resize(kFormatsMax);
  s.x_packed_ok.assign(kFormatsMax, 0);
  int n_formats = 0;
  auto find_format = [&](DType dtype) {
    for (int f = 0; f < n_formats; ++f) {
      if (s.x_packed[size_t(f)].dtype == dtype) return f;
    }
    return -1;
  };
  for (const ExpertWeights* e : experts) {
    for (DType dtype : {e->w1.dtype, e->w3.dtype}) {
      if (find_format(dtype) >= 0) continue;
      DSV4_CHECK(n_formats < kFormatsMax);
      kernels::PackedActivations& p = s.x_packed[size_t(n_formats)];
      s.x_packed_ok[size_t(n_formats)] = kernels::PackActivations(x, 1, D, dtype, act_quant, &p);
      p.dtype = dtype;
      ++n_formats;
    }
  }
  // One slice of rows of a product with x: on the packed x where there is one.
  auto rows_of_x = [&](const kernels::WeightMatrix& m, int64_t r0, int64_t r1, float* out) {
    const int f = find_format(m.dtype);
    if (s.x_packed_ok[size_t(f)]) return kernels::LinearRowsPacked(s.x_packed[size_t(f)], m, r0, r1, out, lin);
    kernels::LinearRows(x, 1, m, r0, r1, out, lin);
  };
  // A task takes the same slice of rows of w1 and w3, then applies SwiGlu to it (per
  // element, so per slice: no serial pass over all experts between the two loops).
  const int64_t up_slices = (I + kSlice - 1) / kSlice;
  ParallelFor(size_t(J * up_slices), 1, [&](size_t b, size_t end) {
    for (size_t task = b; task < end; ++task) {
      const int64_t j = int64_t(task) / up_slices;
      const int64_t r0 = int64_t(task) % up_slices * kSlice, r1 = std::min(I, r0 + kSlice);
      float* gj = g.data() + j * I + r0;
      float* uj = u.data() + j * I + r0;
      rows_of_x(experts[size_t(j)]->w1, r0, r1, gj);
      rows_of_x(experts[size_t(j)]->w3, r0, r1, uj);
      SwiGlu(gj, uj, 1, r1 - r0, row_weights[size_t(j)], float(c.swiglu_limit));
    }
  });
  s.h_packed.resize(size_t(J));
  s.h_packed_ok.resize(size_t(J));
  ParallelFor(size_t(J), 1, [&](size_t j0, size_t j1) {
    for (size_t j = j0; j < j1; ++j) {
      s.h_packed_ok[j] = kernels::PackActivations(&g[j * size_t(I)], 1, I, experts[j]->w2.dtype, act_quant, &s.h_packed[j]);
    }
  });
  const int64_t down_slices = (D + kSlice - 1) / kSlice;
  ParallelFor(size_t(J * down_slices), 1, [&](size_t b, size_t end) {
    for (size_t task = b; task < end; ++task) {
      const int64_t j = int64_t(task) / down_slices;
      const int64_t r0 = int64_t(task) % down_slices * kSlice, r1 = std::min(D, r0 + kSlice);
      if (s.h_packed_ok[size_t(j)]) {
        kernels::LinearRowsPacked(s.h_packed[size_t(j)], experts[size_t(j)]->w2, r0, r1, ye + j * D + r0, lin);
      } else {
        kernels::LinearRows(&g[size_t(j * I)], 1, experts[size_t(j)]->w2, r0, r1, ye + j * D + r0, lin);
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
  if (T == 1 && pool.size() > 1) {
    // Decode at batch 1: the routed experts and the shared one (no routing weight) in two
    // pool loops over slices of their rows (ExpertsOneToken); ye's blocks are in order.
    s.experts.clear();
    s.row_weights.clear();
    for (int32_t e : active) {
      s.experts.push_back(&w.experts[size_t(e)]);
      s.row_weights.push_back(weights_of(e));
    }
    s.experts.push_back(&w.shared);
    s.row_weights.push_back(nullptr);
    ExpertsOneToken(s.experts, s.row_weights, c, y, act_quant, ye.data());
  } else {
    xe.resize(size_t(off.back() * D));
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
