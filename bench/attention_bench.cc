// The per-key kernels of long-context decode (issue 7), single-threaded:
//   indexer/<isa>: FP4 indexer scoring of 2048 keys against a 64-head x 128-dim query
//     (V4-Flash's indexer; at 1M context a CSA layer scores 262,144 keys per token);
//     items/s = keys scored.
//   BM_AttentionPv/<isa> (f64, precise mode), BM_AttentionPvF32/<isa> (fast mode): P·V
//     of one 64-key block of 512-dim bf16 rows (V4-Flash's head dim) for 8 heads (a
//     decode thread's share of a chunk; at 1M context an HCA layer runs 128 blocks x 64
//     heads per token); items/s = key-head pairs.
//   scores/avx512: attention scores (DotKernels::dot_bf16_keys) of 16 heads (a decode
//     task's chunk) against one 64-key block of 512-dim bf16 rows; items/s = key-head pairs.
//   ./build/bench/attention_bench [--benchmark_filter=indexer]
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/attention_pv.h"
#include "kernels/dot.h"
#include "kernels/indexer_score.h"

namespace dsv4::kernels {
namespace {

void BM_Indexer(benchmark::State& state, IndexerScoreFn fn) {
  if (!fn) {
    state.SkipWithError("kernel not available on this CPU");
    return;
  }
  constexpr int64_t kHeads = 64, kDim = 128, kKeys = 2048;
  std::mt19937 rng(1);
  static const int8_t kValues[] = {0, 1, 2, 3, 4, 6, 8, 12};
  Fp4IndexQuery q;
  q.heads = kHeads;
  q.dim = kDim;
  for (int64_t i = 0; i < kHeads * kDim; ++i) q.values.push_back(int8_t(rng() % 2 ? -1 : 1) * kValues[rng() % 8]);
  for (int64_t i = 0; i < kHeads * kDim / 32; ++i) q.exps.push_back(int32_t(rng() % 4) - 6);
  for (int64_t h = 0; h < kHeads; ++h) q.weights.push_back(RoundBf16(float(int(rng() % 200) - 100) / 700.0f));
  std::vector<uint8_t> codes(size_t(kKeys * kDim / 2)), scales(size_t(kKeys * kDim / 32));
  for (uint8_t& c : codes) c = uint8_t(rng());
  for (uint8_t& s : scales) s = uint8_t(122 + rng() % 4);
  std::vector<float> out(static_cast<size_t>(kKeys));
  for (auto _ : state) {
    fn(q, codes.data(), scales.data(), kKeys, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kKeys);
}

// A block of n random bf16 rows of d values and pointers to them.
struct KeyBlock {
  KeyBlock(int64_t n, int64_t d, std::mt19937& rng) : rows(static_cast<size_t>(n * d)) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (uint16_t& v : rows) v = FloatToBf16(normal(rng));
    for (int64_t u = 0; u < n; ++u) ptrs.push_back(&rows[size_t(u * d)]);
  }
  std::vector<uint16_t> rows;
  std::vector<const uint16_t*> ptrs;
};

// Out: double (AttentionPvFn, precise mode) or float (AttentionPvF32Fn, fast mode).
template <typename Out, typename Fn>
void RunAttentionPv(benchmark::State& state, Fn fn) {
  if (!fn) {
    state.SkipWithError("kernel not available on this CPU");
    return;
  }
  constexpr int64_t kKeys = 64, kDim = 512, kHeads = 8;
  std::mt19937 rng(2);
  const KeyBlock block(kKeys, kDim, rng);
  const std::vector<const uint16_t*>& ptrs = block.ptrs;
  std::vector<float> p;
  for (int64_t i = 0; i < kHeads * kKeys; ++i) p.push_back(RoundBf16(std::exp(-float(rng() % 8))));
  std::vector<Out> out(static_cast<size_t>(kHeads * kDim));
  for (auto _ : state) {
    fn(p.data(), kKeys, kHeads, ptrs.data(), kKeys, kDim, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kKeys * kHeads);
}

void BM_Scores(benchmark::State& state, const DotKernels* dk) {
  if (!dk || !dk->dot_bf16_keys) {
    state.SkipWithError("kernel not available on this CPU");
    return;
  }
  constexpr int64_t kKeys = 64, kDim = 512, kHeads = 16;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const KeyBlock block(kKeys, kDim, rng);
  const std::vector<const uint16_t*>& ptrs = block.ptrs;
  std::vector<float> q(static_cast<size_t>(kHeads * kDim)), out(static_cast<size_t>(kHeads * kKeys));
  for (float& v : q) v = RoundBf16(normal(rng));
  for (auto _ : state) {
    dk->dot_bf16_keys(q.data(), kHeads, ptrs.data(), kKeys, kDim, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kKeys * kHeads);
}

BENCHMARK_CAPTURE(BM_Indexer, avx2, IndexerScoreFp4Avx2());
BENCHMARK_CAPTURE(BM_Indexer, avx512, IndexerScoreFp4Avx512());
void BM_AttentionPv(benchmark::State& state, AttentionPvFn fn) { RunAttentionPv<double>(state, fn); }
void BM_AttentionPvF32(benchmark::State& state, AttentionPvF32Fn fn) { RunAttentionPv<float>(state, fn); }

BENCHMARK_CAPTURE(BM_AttentionPv, avx2, AttentionPvAvx2());
BENCHMARK_CAPTURE(BM_AttentionPv, avx512, AttentionPvAvx512());
BENCHMARK_CAPTURE(BM_AttentionPvF32, avx2, AttentionPvF32Avx2());
BENCHMARK_CAPTURE(BM_AttentionPvF32, avx512, AttentionPvF32Avx512());
BENCHMARK_CAPTURE(BM_Scores, avx512, Avx512DotKernels());

}  // namespace
}  // namespace dsv4::kernels

BENCHMARK_MAIN();
