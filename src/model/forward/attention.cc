#include "model/forward/attention.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <memory>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/attention_pv.h"
#include "kernels/attention_scores.h"
#include "kernels/dot.h"
#include "kernels/linear.h"
#include "kernels/precision.h"
#include "kernels/softmax_block.h"
#include "model/forward/compressor.h"
#include "model/forward/indexer.h"

namespace dsv4 {
namespace {

constexpr size_t kAttnBlock = 64;  // the reference kernel's block of indices

// RoundBf16(x[i]) == x[i] for every i: the low 16 bits zero and no NaN. Branch-free for
// the vectoriser: it checks a row's heads x d queries once per call (64 x 512 at V4-Flash),
// which as a loop of RoundBf16 compares was ~1% of a 512-token prefill chunk.
__attribute__((optimize("vect-cost-model=dynamic"))) bool IsBf16Exact(const float* x, int64_t n) {
  uint32_t off_grid = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = std::bit_cast<uint32_t>(x[i]);
    off_grid |= (u & 0xFFFFu) | uint32_t((u & 0x7FFFFFFFu) > 0x7F800000u);
  }
  return off_grid == 0;
}

// acc[i] = acc[i] · alpha + fp32(pv[i]): an fp32 multiply, then an add (the reference's
// roundings). Written for the vectoriser (no aliasing; -O2's cheapest cost model leaves a
// loop mixing double and float scalar), since at long context it runs for every head and
// 64-key block.
__attribute__((optimize("vect-cost-model=dynamic"))) void RescaleAdd(float* __restrict acc,
                                                                      const double* __restrict pv,
                                                                      float alpha, int64_t d) {
  for (int64_t i = 0; i < d; ++i) acc[i] = acc[i] * alpha + float(pv[i]);
}
// The same with the fast mode's fp32 block sums (as a scalar loop, ~3% of a 512-token
// prefill chunk).
__attribute__((optimize("vect-cost-model=dynamic"))) void RescaleAdd(float* __restrict acc,
                                                                      const float* __restrict pv, float alpha,
                                                                      int64_t d) {
  for (int64_t i = 0; i < d; ++i) acc[i] = acc[i] * alpha + pv[i];
}

// out[i] = RoundBf16(acc[i] / l): every head's output of every row (vectorised with the
// dynamic cost model; -O2's cheapest one leaves it scalar).
__attribute__((optimize("vect-cost-model=dynamic"))) void DivideRoundBf16(const float* __restrict acc, float l,
                                                                           int64_t d, float* __restrict out) {
  for (int64_t i = 0; i < d; ++i) out[i] = RoundBf16(acc[i] / l);
}

// Per-thread buffers of SinkAttention, kept across calls.
struct AttentionScratch {
  std::vector<const uint16_t*> rows;
  std::vector<float> scores, z, p, acc, m, l, alpha;
  std::vector<double> block_sum, block_pv;
  std::vector<float> block_pv32, block_sum32;  // fast mode's fp32 P·V and exp sums
  std::vector<uint8_t> live;
};

// Softmax attention of `heads` heads (queries q + h·d, outputs out + h·d) over the same
// `keys` (each [d] bf16; nullptr = a padding slot of the reference's index list) with
// each head's sink as an extra logit whose value is zero (spec §6.9). Mirrors the
// reference kernel, head by head: online softmax over blocks of 64 slots, probabilities
// exp(z - running max) rounded to bf16 before P·V, the denominator summing the unrounded
// exponentials. The heads share a block's key rows (its P·V kernel widens them once for
// all), and each block is read once for all the heads rather than once per head. The fast
// mode takes each block's softmax from kernels/softmax_block.h (its own exp, fp32 sums).
void SinkAttention(const float* q, int64_t heads, const std::vector<const uint16_t*>& keys,
                   int64_t d, float scale, const float* sinks, float* out, AttentionScratch& s) {
  const kernels::DotKernels& dk = kernels::ActiveDotKernels();
  // P·V block sums in f64 in precise mode (the reference's), in fp32 in fast mode (as
  // every other product there; on AMX tiles in tile order where that is active:
  // kernels/attention_pv.h).
  const bool precise = kernels::PreciseMath();
  const kernels::AttentionPvFn pv = kernels::ActiveAttentionPv();
  const kernels::AttentionPvF32Fn pv32 = kernels::ActiveAttentionPvFast();
  const int64_t B = int64_t(kAttnBlock);
  s.acc.assign(size_t(heads * d), 0.0f);
  s.m.assign(size_t(heads), -INFINITY);
  s.l.assign(size_t(heads), 0.0f);
  s.z.resize(size_t(heads * B));
  s.p.resize(size_t(heads * B));
  s.alpha.resize(size_t(heads));
  s.block_sum.resize(size_t(heads));
  s.live.resize(size_t(heads));
  if (precise) {
    s.block_pv.resize(size_t(heads * d));
  } else {
    s.block_pv32.resize(size_t(heads * d));
    s.block_sum32.resize(size_t(heads));
  }
  const kernels::SoftmaxBlockFn softmax = kernels::ActiveSoftmaxBlock();
  // Every head's scores of a block's rows at once where the kernel set has that and the
  // queries are bf16 values (as AttentionForward's are), else pair by pair; in the fast
  // mode with tile order active, on the tiles (kernels/attention_scores.h).
  // (One per thread: prefill's scratch lives for one pool task, and the tiles' buffers
  // are worth keeping.)
  const bool bf16_queries = IsBf16Exact(q, heads * d);
  thread_local const std::unique_ptr<kernels::TileScores> tile_scores = kernels::NewActiveTileScores();
  kernels::TileScores* tile = !precise && bf16_queries ? tile_scores.get() : nullptr;
  if (tile) tile->SetQuery(q, heads, d);
  const bool multi = tile == nullptr && dk.dot_bf16_keys != nullptr && bf16_queries;
  for (size_t b0 = 0; b0 < keys.size(); b0 += kAttnBlock) {
    const size_t b1 = std::min(keys.size(), b0 + kAttnBlock);
    s.rows.clear();
    for (size_t u = b0; u < b1; ++u) {
      if (keys[u]) s.rows.push_back(keys[u]);
    }
    const int64_t nrows = int64_t(s.rows.size());
    if (multi || !precise) s.scores.resize(size_t(heads * nrows));
    if (tile) {
      tile->Score(s.rows.data(), nrows, s.scores.data());
    } else if (multi) {
      dk.dot_bf16_keys(q, heads, s.rows.data(), nrows, d, s.scores.data());
    } else if (!precise) {
      for (int64_t h = 0; h < heads; ++h) {
        for (int64_t r = 0; r < nrows; ++r) s.scores[size_t(h * nrows + r)] = dk.dot_bf16(q + h * d, s.rows[size_t(r)], d);
      }
    }
    bool any_live = false;
    if (!precise) {
      softmax(s.scores.data(), heads, nrows, scale, s.m.data(), s.p.data(), B, s.alpha.data(), s.block_sum32.data(),
              s.live.data());
      any_live = std::find(s.live.begin(), s.live.end(), uint8_t(1)) != s.live.end();
    }
    // Precise mode: the reference's exp (in double) and f64 sums, head by head.
    for (int64_t h = 0; precise && h < heads; ++h) {
      const float* qh = q + h * d;
      float* z = &s.z[size_t(h * B)];
      float* p = &s.p[size_t(h * B)];
      const float* sh = multi ? &s.scores[size_t(h * nrows)] : nullptr;
      float block_max = -INFINITY;
      for (size_t u = b0; u < b1; ++u) {
        float dot = -INFINITY;
        if (keys[u]) dot = (sh ? *sh++ : dk.dot_bf16(qh, keys[u], d)) * scale;
        z[u - b0] = dot;
        block_max = std::max(block_max, z[u - b0]);
      }
      const float m_new = std::max(s.m[size_t(h)], block_max);
      s.live[size_t(h)] = m_new != -INFINITY;  // else nothing valid yet: the head skips the block
      if (!s.live[size_t(h)]) {
        std::fill(p, p + B, 0.0f);
        continue;
      }
      any_live = true;
      s.alpha[size_t(h)] = Exp32(s.m[size_t(h)] - m_new);
      double block_sum = 0.0;
      int64_t valid = 0;
      for (size_t u = b0; u < b1; ++u) {
        if (!keys[u]) continue;
        const float e = Exp32(z[u - b0] - m_new);
        block_sum += e;
        p[valid++] = RoundBf16(e);
      }
      s.block_sum[size_t(h)] = block_sum;
      s.m[size_t(h)] = m_new;
    }
    if (!any_live) continue;
    if (precise) {
      pv(s.p.data(), B, heads, s.rows.data(), int64_t(s.rows.size()), d, s.block_pv.data());
    } else {
      pv32(s.p.data(), B, heads, s.rows.data(), int64_t(s.rows.size()), d, s.block_pv32.data());
    }
    // Per block: P·V (f64 rounded once, or fp32) and the exp sum (f64 rounded once, or
    // fp32), then the fp32 rescale-and-add.
    for (int64_t h = 0; h < heads; ++h) {
      if (!s.live[size_t(h)]) continue;
      float* acc = &s.acc[size_t(h * d)];
      if (precise) {
        RescaleAdd(acc, &s.block_pv[size_t(h * d)], s.alpha[size_t(h)], d);
        s.l[size_t(h)] = s.l[size_t(h)] * s.alpha[size_t(h)] + float(s.block_sum[size_t(h)]);
      } else {
        RescaleAdd(acc, &s.block_pv32[size_t(h * d)], s.alpha[size_t(h)], d);
        s.l[size_t(h)] = s.l[size_t(h)] * s.alpha[size_t(h)] + s.block_sum32[size_t(h)];
      }
    }
  }
  for (int64_t h = 0; h < heads; ++h) {
    const float l = s.l[size_t(h)] + Exp32(sinks[h] - s.m[size_t(h)]);
    DivideRoundBf16(&s.acc[size_t(h * d)], l, d, out + h * d);
  }
}

// AttentionForward's per-call buffers (ReuseBuffer).
struct AttentionBuffers {
  std::vector<float> cq, q, kv, o, u;
  std::vector<uint16_t> kv_bits;
  std::vector<int64_t> positions;
  std::vector<float> ckv, cscore, entries;     // the compressor's
  std::vector<std::vector<int32_t>> selected;  // the indexer's choice per row
};

}  // namespace

void AttentionForward(const AttentionWeights& w, const ModelConfig& c, const RopeTable& rope,
                      const float* y, const std::vector<LayerRows>& segs,
                      const ForwardOptions& options, float* out) {
  const int64_t H = c.num_attention_heads, d = c.head_dim;
  const int64_t rd = c.qk_rope_head_dim, nope = d - rd, W = c.sliding_window;
  const int64_t q_r = c.q_lora_rank, G = c.o_groups, o_r = c.o_lora_rank;
  const int64_t ratio = w.compress_ratio;
  const bool act_quant = options.act_quant;
  const kernels::LinearOptions lin{.act_quant = act_quant, .round_bf16 = true};
  // Buffers reused across calls (ReuseBuffer): a 512-row prefill chunk of V4-Flash needs
  // 67 MB each for q and o, and a decode step allocates nothing. References, so the
  // worker lambdas below see these instances.
  thread_local AttentionBuffers buffers;
  AttentionBuffers& b = buffers;
  const std::vector<int64_t>& positions = b.positions;
  RowPositions(segs, &b.positions);
  const int64_t N = int64_t(positions.size());  // rows of all sequences

  // Query path (§6.2): c_q = q_norm(wq_a·y); q = wq_b·c_q, per-head rescale, RoPE.
  // The per-row and per-head steps run on the pool (rows are independent; serial, with
  // the indexer's and Linear's packing, they were about half of the engine thread's time
  // alone in a batch-16 step: 18-22 -> 8-13 ms).
  std::vector<float>& cq = ReuseBuffer(b.cq, size_t(N * q_r));
  kernels::Linear(y, N, w.wq_a, cq.data(), lin);
  ParallelFor(size_t(N), 1, [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      RmsNorm(&cq[t * size_t(q_r)], w.q_norm.data(), q_r, float(c.rms_norm_eps), &cq[t * size_t(q_r)]);
    }
  });
  std::vector<float>& q = ReuseBuffer(b.q, size_t(N * H * d));
  kernels::Linear(cq.data(), N, w.wq_b, q.data(), lin);
  ForEachHeadWithAngles(rope, positions, H, [&](size_t i, const float* cos, const float* sin) {
    float* qh = &q[i * size_t(d)];
    RescaleHeadBf16(qh, d, float(c.rms_norm_eps));
    rope.ApplyAngles(qh + nope, cos, sin, false);
  });

  // KV path (§6.3): kv = kv_norm(wkv·y), RoPE, Q8_64 on the non-rope dims. The values
  // are bf16 (and on the FP8 entry grid with act_quant), so the bf16 bits are exact.
  std::vector<float>& kv = ReuseBuffer(b.kv, size_t(N * d));
  kernels::Linear(y, N, w.wkv, kv.data(), lin);
  std::vector<uint16_t>& kv_bits = ReuseBuffer(b.kv_bits, kv.size());
  ParallelFor(size_t(N), 1, [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      float* kt = &kv[t * size_t(d)];
      RmsNorm(kt, w.kv_norm.data(), d, float(c.rms_norm_eps), kt);
      rope.Apply(kt + nope, positions[t], false);
      if (act_quant) SimulateFp8Blocks(kt, nope, 64);
      for (int64_t i = 0; i < d; ++i) kv_bits[t * size_t(d) + size_t(i)] = FloatToBf16(kt[i]);
    }
  });

  // Compressed entries and the indexer's choice (§6.6, §6.7).
  if (ratio > 0) {
    std::vector<float>&ckv = b.ckv, &cscore = b.cscore, &entries = b.entries;
    CompressorProject(w.compressor, y, N, &ckv, &cscore);
    const int64_t width = w.compressor.coff * w.compressor.dim;
    for (const LayerRows& s : segs) {
      entries.clear();
      CompressorConsume(w.compressor, CompressorKind::kAttention, &ckv[size_t(s.row0 * width)],
                        &cscore[size_t(s.row0 * width)], s.rows, s.pos0, rope, c, act_quant,
                        &s.state->compressor, &entries);
      for (size_t i = 0; i < entries.size(); i += size_t(d)) s.state->compressed.Append(&entries[i]);
    }
  }
  const std::vector<std::vector<int32_t>>& selected = b.selected;
  if (ratio == 4) IndexerSelect(w.indexer, c, rope, y, cq.data(), segs, act_quant, &b.selected);

  // Sparse attention with sink (§6.8, §6.9), then inverse RoPE (§6.10 step 1).
  std::vector<float>& o = ReuseBuffer(b.o, size_t(N * H * d));
  const float scale = float(std::pow(double(d), -0.5));
  // One sequence's rows: its cached entries decoded, then every row's heads. Called
  // either on the engine thread for each sequence (its loops over rows or heads then use
  // the pool) or as one pool task per sequence (its loops then run inline).
  auto attend_segment = [&](const LayerRows& s) {
    const LayerState* state = s.state;
    const int64_t T = s.rows, pos0 = s.pos0;
    // Index-list layout of the reference (padding slots shift its 64-wide softmax
    // blocks): a prefill from position 0 lists min(T, W) window slots and T/ratio (HCA)
    // or min(K, T/4) (CSA) compressed slots per query, padded; a decode step lists W
    // window slots and exactly the visible compressed entries. See ForwardOptions.
    const bool from_start = options.reference_prefill_layout && pos0 == 0;
    const int64_t window_width = from_start ? std::min(T, W) : W;
    // bf16 views of the cached entries this chunk reads: the window ring (earlier
    // positions) and, for HCA, every entry visible to its last row, each decoded once.
    // Reused across steps (thread_local: one engine thread per model): at 1M context the
    // HCA view is 8 MB, and a fresh vector each step cost page faults and zero-filling.
    thread_local std::vector<uint16_t> window_scratch, hca_scratch;
    const uint16_t* window_bits = state->window_kv.Bf16Range(0, pos0 > 0 ? W : 0, &window_scratch);
    const uint16_t* hca_bits = nullptr;
    if (ratio > 0 && ratio != 4) {
      hca_bits = state->compressed.Bf16Range(0, (pos0 + T) / ratio, &hca_scratch);
    }
    // The key list of row t: pointers to bf16 [d] rows (nullptr = padding slot). CSA
    // entries are decoded into `csa` ([index_topk, d]).
    auto build_keys = [&](int64_t t, std::vector<const uint16_t*>* keys, std::vector<uint16_t>* csa) {
      const int64_t pos = pos0 + t, row = s.row0 + t;
      keys->clear();
      for (int64_t u = std::max<int64_t>(0, pos - W + 1); u <= pos; ++u) {
        keys->push_back(u >= pos0 ? &kv_bits[size_t((s.row0 + u - pos0) * d)]
                                  : &window_bits[size_t((u % W) * d)]);
      }
      keys->resize(size_t(std::max<int64_t>(window_width, int64_t(keys->size()))), nullptr);
      if (ratio == 0) return;
      const size_t base = keys->size();
      if (ratio == 4) {
        const std::vector<int32_t>& sel = selected[size_t(row)];
        csa->resize(sel.size() * size_t(d));
        for (size_t i = 0; i < sel.size(); ++i) {
          keys->push_back(state->compressed.Bf16(sel[i], &(*csa)[i * size_t(d)]));
        }
      } else {
        const int64_t visible = (pos + 1) / ratio;
        for (int64_t j = 0; j < visible; ++j) keys->push_back(&hca_bits[size_t(j * d)]);
      }
      if (from_start) {
        const int64_t width = ratio == 4 ? std::min(c.index_topk, T / 4) : T / ratio;
        keys->resize(std::max(keys->size(), base + size_t(width)), nullptr);
      }
    };
    struct Scratch {
      std::vector<const uint16_t*> keys;
      std::vector<uint16_t> csa;
      AttentionScratch attn;
    };
    // Heads [h0, h1) of row t over `keys`, then inverse RoPE on each head's output.
    auto attend = [&](int64_t t, int64_t h0, int64_t h1, const std::vector<const uint16_t*>& keys,
                      AttentionScratch& sc) {
      const int64_t pos = pos0 + t, row = s.row0 + t;
      float* o0 = &o[size_t((row * H + h0) * d)];
      SinkAttention(&q[size_t((row * H + h0) * d)], h1 - h0, keys, d, scale, &w.attn_sink[size_t(h0)], o0, sc);
      float cos[kMaxRopePairs], sin[kMaxRopePairs];
      rope.Angles(pos, cos, sin);
      for (int64_t h = h0; h < h1; ++h) rope.ApplyAngles(&o[size_t((row * H + h) * d)] + nope, cos, sin, true);
    };
    if (T >= int64_t(2 * GlobalThreadPool().size())) {
      // Many rows: a row (its key list built once, all heads) per task.
      ParallelFor(size_t(T), 1, [&](size_t t0, size_t t1) {
        thread_local Scratch row_scratch;  // each thread's own, kept from chunk to chunk
        Scratch& sc = row_scratch;
        for (size_t t = t0; t < t1; ++t) {
          build_keys(int64_t(t), &sc.keys, &sc.csa);
          attend(int64_t(t), 0, H, sc.keys, sc.attn);
        }
      });
    } else {
      // Few rows (decode): chunks of heads in parallel over one shared key list (kept
      // across steps, so its capacity is reused rather than regrown each step).
      // (A reference, not the thread_local itself: in the worker lambdas below a
      // thread_local name would resolve to each worker's own, empty, instance.)
      // Each chunk of heads reads every key once (the HCA view at 1M context is 8 MB), so
      // chunks are large: two per thread.
      thread_local Scratch decode_scratch;
      Scratch& shared = decode_scratch;
      const size_t head_chunk = std::max<size_t>(1, size_t(H) / (2 * GlobalThreadPool().size()));
      for (int64_t t = 0; t < T; ++t) {
        build_keys(t, &shared.keys, &shared.csa);
        ParallelFor(size_t(H), head_chunk, [&](size_t h0, size_t h1) {
          thread_local AttentionScratch sc;
          attend(t, int64_t(h0), int64_t(h1), shared.keys, sc);
        });
      }
    }
  };
  // A batch of decode-sized sequences: a sequence per task. Per sequence, the engine
  // thread alone decoded its window ring (128 FP8 entries) before the heads went to the
  // pool, two hand-offs per sequence and layer (batch 16: ~2.5 ms of serial decode a
  // step, perf). Each row's arithmetic is the same either way.
  const size_t threads = GlobalThreadPool().size();
  const bool per_sequence_tasks =
      threads > 1 && segs.size() >= 2 * threads &&
      std::all_of(segs.begin(), segs.end(), [&](const LayerRows& s) { return s.rows < int64_t(2 * threads); });
  if (per_sequence_tasks) {
    ParallelFor(segs.size(), 1, [&](size_t i0, size_t i1) {
      for (size_t i = i0; i < i1; ++i) attend_segment(segs[i]);
    }, 1);
  } else {
    for (const LayerRows& s : segs) attend_segment(s);
  }

  // Each chunk's newest raw kv rows enter its sequence's window ring.
  for (const LayerRows& s : segs) {
    for (int64_t t = std::max<int64_t>(0, s.rows - W); t < s.rows; ++t) {
      const int64_t pos = s.pos0 + t, row = s.row0 + t;
      s.state->window_kv.Set(pos % W, &kv[size_t(row * d)]);
    }
  }

  // Grouped low-rank output projection (§6.10): u_g = wo_a[g] · O_g (bf16 einsum in the
  // reference: no activation quantisation), f = wo_b · concat(u).
  const int64_t gin = H / G * d;
  std::vector<float>& u = ReuseBuffer(b.u, size_t(N * G * o_r));
  const kernels::LinearOptions plain{.act_quant = false, .round_bf16 = true};
  if (N == 1 && GlobalThreadPool().size() > 1) {
    // One row (decode at batch 1): its groups are contiguous in o; all groups' rows in one
    // pool loop over slices of rows instead of one loop per group (8 hand-offs a layer).
    constexpr int64_t kSlice = 512;
    const int64_t slices = (o_r + kSlice - 1) / kSlice;
    ParallelFor(size_t(G * slices), 1, [&](size_t first, size_t last) {
      for (size_t task = first; task < last; ++task) {
        const int64_t g = int64_t(task) / slices;
        const int64_t r0 = int64_t(task) % slices * kSlice, r1 = std::min(o_r, r0 + kSlice);
        kernels::LinearRows(&o[size_t(g * gin)], 1, w.wo_a, g * o_r + r0, g * o_r + r1, &u[size_t(g * o_r + r0)], plain);
      }
    });
  } else {
    // Group g reads its column block of o and writes its column block of u in place (a
    // gather into a [N, gin] copy and a scatter back were ~3-4% of a 512-token chunk, on
    // the engine thread alone).
    for (int64_t g = 0; g < G; ++g) {
      kernels::LinearRowsStrided(&o[size_t(g * gin)], H * d, N, w.wo_a, g * o_r, (g + 1) * o_r,
                                 &u[size_t(g * o_r)], G * o_r, plain);
    }
  }
  kernels::Linear(u.data(), N, w.wo_b, out, lin);
}

}  // namespace dsv4
