// Where a batch-1 decode step's time goes (issue 6), on the V4-Flash-shaped benchmark
// checkpoint (or --model DIR):
//   decode_profile [--model DIR] [--steps 32] [--reps 5] [--stat median|min] [--batch B]
//                  [--tokens N] [--moe N] [--ab PAIRS]
// 1. Plain reads (core/bandwidth.h ReadOnce: all threads, four prefetched streams each)
//    of the head's mapped bytes (the checkpoint's own pages) and of a 512 MiB huge-page
//    buffer: the speed a weight stream can reach.
// 2. Each weight GEMV of one decode step (every dense matrix of every layer, six routed
//    experts + the shared one per MoE layer, the head), called through kernels::Linear at
//    T = 1 in step order, `reps` rounds: ms and GB/s per matrix (weights exceed the
//    caches, so each call streams from memory as in decode). With --moe N, each MoE layer
//    alone too: N MoeForward calls at T = 1 and at T = B (routing, experts, combine).
// 3. Full decode steps (Model::Forward, --tokens N (default 1; 512: a prefill chunk) for
//    each of --batch B sequences, default 1): p50/p99, the engine thread's time alone
//    (serial), every pool loop of one step (index, items, ms), and (B = 1) step time minus
//    the sum of the GEMV times = the time outside weight GEMVs (attention, norms, HC
//    mixers, compressors, indexer, pool hand-offs), and heap allocations per step.
// Prints a table and one JSON line. Hold /tmp/dsv4-bench.lock while running.
// --ab PAIRS: only the full steps of 3, as PAIRS pairs of one step with ExperimentSwitch()
// off (A) and one with it on (B), B first in every other pair (bench/paired_ab.h): the
// B/A step-time ratios of a candidate change that reads the switch (bench/README.md).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bandwidth.h"
#include "core/dtype.h"
#include "core/experiment_switch.h"
#include "core/alloc_counter.h"
#include "core/thread_pool.h"
#include "kernels/linear.h"
#include "model/forward/costs.h"
#include "model/forward/model.h"
#include "model/forward/moe.h"
#include "model/synthetic_checkpoint.h"
#include "flags.h"
#include "paired_ab.h"

namespace dsv4 {
namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

using bench::Flag;

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

struct Gemv {
  std::string name;
  const WeightMatrix* w;
  kernels::LinearOptions options;
  std::vector<double> seconds;
};

// Decode steps of `batch` sequences with a 16-token (or `tokens`-token) prompt each, then
// `tokens` new tokens per sequence a step; each state has room reserved for up to
// `max_steps` steps (SequenceState::Reserve, as the engine reserves prompt + max_tokens).
class StepRunner {
 public:
  StepRunner(const Model& model, int batch, int tokens, int max_steps)
      : model_(model), tokens_(tokens), vocab_(model.config().vocab_size), segs_(size_t(batch)), logits_(size_t(batch)) {
    for (int b = 0; b < batch; ++b) {
      states_.push_back(model.NewState(false));
      states_.back()->Reserve(std::max(16, tokens) + int64_t(tokens) * max_steps);
      segs_[size_t(b)].state = states_.back().get();
      for (int i = 0; i < std::max(16, tokens); ++i) segs_[size_t(b)].tokens.push_back(int32_t((i * 7919 + b * 131) % vocab_));
    }
    model.Forward(segs_, options_);
  }
  // Step s (its tokens set first, outside the timing); returns the Forward's milliseconds.
  double Step(int s) {
    for (size_t b = 0; b < segs_.size(); ++b) {
      segs_[b].tokens.clear();
      for (int i = 0; i < tokens_; ++i) segs_[b].tokens.push_back(int32_t((s * 7 + 1 + int64_t(b) + i * 7919) % vocab_));
      segs_[b].logits = &logits_[b];
    }
    const auto t0 = Clock::now();
    model_.Forward(segs_, options_);
    return Since(t0) * 1e3;
  }

 private:
  const Model& model_;
  const int tokens_;
  const int64_t vocab_;
  const ForwardOptions options_;
  std::vector<std::unique_ptr<SequenceState>> states_;
  std::vector<ForwardSegment> segs_;
  std::vector<std::vector<float>> logits_;
};

}  // namespace
}  // namespace dsv4

int main(int argc, char** argv) {
  using namespace dsv4;
  const std::string dir = Flag(argc, argv, "model", "");
  const int steps = std::atoi(Flag(argc, argv, "steps", "32").c_str());
  const int reps = std::atoi(Flag(argc, argv, "reps", "5").c_str());
  // --stat min: the fastest of the rounds per matrix (closest to an idle machine's speed).
  const bool min_stat = Flag(argc, argv, "stat", "median") == "min";
  const int batch = std::atoi(Flag(argc, argv, "batch", "1").c_str());
  const int tokens = std::atoi(Flag(argc, argv, "tokens", "1").c_str());
  const int moe_calls = std::atoi(Flag(argc, argv, "moe", "0").c_str());
  const int ab_pairs = std::atoi(Flag(argc, argv, "ab", "0").c_str());
  if (batch < 1 || steps < 1 || reps < 1 || tokens < 1 || ab_pairs < 0) {
    std::fprintf(stderr, "--batch, --tokens, --steps and --reps must be at least 1, --ab at least 0\n");
    return 1;
  }
  auto loaded = Model::Load(dir.empty() ? EnsureFlashShapedCheckpoint("", 2) : dir);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.error().c_str());
    return 1;
  }
  const Model& model = *loaded.value();
  const ModelConfig& c = model.config();
  const ModelWeights& mw = model.weights();
  nlohmann::ordered_json j;
  j["threads"] = GlobalThreadPool().size();
  if (ab_pairs > 0) {
    StepRunner runner(model, batch, tokens, 2 + 2 * ab_pairs);
    for (int s = 0; s < 2; ++s) runner.Step(s);  // warm-up (first touches, buffers grown)
    bench::PairedAb ab;
    for (int p = 0; p < ab_pairs; ++p) {
      // Both steps of a pair take the same tokens, so both read the same experts.
      ab.RunPair([&] { return runner.Step(2 + p); });
    }
    std::printf("batch %d, %d tokens a step: %s\n", batch, tokens, ab.Summary(1.0, "ms").c_str());
    j["batch"] = batch;
    j["tokens_per_step"] = tokens;
    j["ab_pairs"] = ab.pairs();
    j["ab_ratio_median"] = ab.Ratio(0.5);
    j["ab_ratio_q25"] = ab.Ratio(0.25);
    j["ab_ratio_q75"] = ab.Ratio(0.75);
    j["ab_a_step_ms_median"] = ab.A(0.5);
    j["ab_b_step_ms_median"] = ab.B(0.5);
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }

  // 1. Plain reads.
  const BandwidthResult bw = MeasureBandwidth(size_t(512) << 20, 3);
  j["bandwidth_copy_gb_s"] = bw.copy_gb_s;
  j["bandwidth_read_gb_s"] = bw.read_gb_s;
  const size_t head_bytes = size_t(mw.head.bytes());
  double best_mapped = 1e30;
  for (int r = 0; r < 5; ++r) best_mapped = std::min(best_mapped, ReadOnce(mw.head.data, head_bytes));
  j["plain_read_head_mapped_gb_s"] = double(head_bytes) / best_mapped / 1e9;
  double best_head = 1e30;
  {
    std::vector<float> hx(size_t(mw.head.cols), 0.5f), hy(size_t(mw.head.rows));
    for (int r = 0; r < 5; ++r) {
      const auto t0 = Clock::now();
      kernels::Linear(hx.data(), 1, mw.head, hy.data(), {.act_quant = false, .round_bf16 = false});
      best_head = std::min(best_head, Since(t0));
    }
  }
  j["head_gemv_best_gb_s"] = double(head_bytes) / best_head / 1e9;

  // 2. The GEMVs of one decode step, in step order.
  const kernels::LinearOptions quant{.act_quant = true, .round_bf16 = true};
  const kernels::LinearOptions plain{.act_quant = false, .round_bf16 = true};
  const kernels::LinearOptions fp32{.act_quant = false, .round_bf16 = false};
  std::vector<Gemv> gemvs;
  for (const BlockWeights& b : mw.layers) {
    const std::string l = "L" + std::to_string(b.layer) + ".";
    const AttentionWeights& a = b.attn;
    gemvs.push_back({l + "hc_attn.fn", &b.hc_attn.fn, fp32, {}});
    gemvs.push_back({l + "wq_a", &a.wq_a, quant, {}});
    gemvs.push_back({l + "wq_b", &a.wq_b, quant, {}});
    gemvs.push_back({l + "wkv", &a.wkv, quant, {}});
    if (a.has_compressor) {
      gemvs.push_back({l + "compressor.wkv", &a.compressor.wkv, fp32, {}});
      gemvs.push_back({l + "compressor.wgate", &a.compressor.wgate, fp32, {}});
    }
    if (a.has_indexer) {
      gemvs.push_back({l + "indexer.wq_b", &a.indexer.wq_b, quant, {}});
      gemvs.push_back({l + "indexer.weights_proj", &a.indexer.weights_proj, quant, {}});
      gemvs.push_back({l + "indexer.compressor.wkv", &a.indexer.compressor.wkv, fp32, {}});
      gemvs.push_back({l + "indexer.compressor.wgate", &a.indexer.compressor.wgate, fp32, {}});
    }
    gemvs.push_back({l + "wo_a", &a.wo_a, plain, {}});
    gemvs.push_back({l + "wo_b", &a.wo_b, quant, {}});
    gemvs.push_back({l + "hc_ffn.fn", &b.hc_ffn.fn, fp32, {}});
    gemvs.push_back({l + "gate", &b.ffn.gate, fp32, {}});
    for (int64_t e = 0; e < c.num_experts_per_tok; ++e) {
      const ExpertWeights& x = b.ffn.experts[size_t((e * 37 + b.layer * 11) % c.n_routed_experts)];
      for (const WeightMatrix* m : {&x.w1, &x.w3, &x.w2}) gemvs.push_back({l + "expert.w", m, quant, {}});
    }
    for (const WeightMatrix* m : {&b.ffn.shared.w1, &b.ffn.shared.w3, &b.ffn.shared.w2}) {
      gemvs.push_back({l + "shared.w", m, quant, {}});
    }
  }
  gemvs.push_back({"hc_head.fn", &mw.hc_head.fn, fp32, {}});
  gemvs.push_back({"head", &mw.head, fp32, {}});
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(size_t(1) << 16), y(size_t(mw.head.rows) + 1024);
  for (float& v : x) v = RoundBf16(nd(rng));
  for (int r = 0; r < reps; ++r) {
    for (Gemv& g : gemvs) {
      const auto t0 = Clock::now();
      kernels::Linear(x.data(), 1, *g.w, y.data(), g.options);
      g.seconds.push_back(Since(t0));
    }
  }
  // Aggregate by name (experts of a layer summed), medians per call.
  std::map<std::string, std::pair<double, double>> by_name;  // seconds, bytes per step
  std::vector<std::string> order;
  double gemv_s = 0, gemv_bytes = 0;
  for (const Gemv& g : gemvs) {
    const double s = Percentile(g.seconds, min_stat ? 0.0 : 0.5);
    if (!by_name.count(g.name)) order.push_back(g.name);
    by_name[g.name].first += s;
    by_name[g.name].second += double(g.w->bytes());
    gemv_s += s;
    gemv_bytes += double(g.w->bytes());
  }
  std::printf("%-32s %10s %10s %8s\n", "gemv (T=1, step order)", "ms", "MB", "GB/s");
  for (const std::string& n : order) {
    const auto [s, b] = by_name[n];
    std::printf("%-32s %10.3f %10.2f %8.1f\n", n.c_str(), s * 1e3, b / 1e6, b / s / 1e9);
    j["gemv"][n] = {{"ms", s * 1e3}, {"mb", b / 1e6}, {"gb_s", b / s / 1e9}};
  }
  j["gemv_total_ms"] = gemv_s * 1e3;
  j["gemv_total_gb"] = gemv_bytes / 1e9;
  j["gemv_gb_s"] = gemv_bytes / gemv_s / 1e9;

  // 2b. (--moe N) Each MoE layer alone, N calls of MoeForward at T = 1 and at T = batch
  // (random inputs and tokens each call): its time beside the sum of its GEMVs above.
  for (size_t li = 0; moe_calls > 0 && li < mw.layers.size(); ++li) {
    for (int T : {1, batch}) {
      std::vector<float> xin(size_t(c.hidden_size) * size_t(T)), out(xin.size());
      std::vector<int32_t> toks(static_cast<size_t>(T));
      std::vector<double> ms;
      for (int r = 0; r < moe_calls; ++r) {
        for (float& v : xin) v = RoundBf16(nd(rng));
        for (int i = 0; i < T; ++i) toks[size_t(i)] = int32_t((r * 7919 + i * 131) % c.vocab_size);
        const auto t0 = Clock::now();
        MoeForward(mw.layers[li].ffn, c, xin.data(), toks.data(), T, true, out.data());
        ms.push_back(Since(t0) * 1e3);
      }
      std::printf("MoE layer %zu T=%d: p50 %.3f ms, min %.3f ms (%d calls)\n", li, T, Percentile(ms, 0.5),
                  Percentile(ms, 0.0), moe_calls);
      const std::string key = "moe_L" + std::to_string(li) + "_T" + std::to_string(T) + "_ms_p50";
      j[key] = Percentile(ms, 0.5);
      if (batch == 1) break;
    }
  }

  // 3. Full decode steps, `batch` sequences of a 16-token prompt each.
  j["batch"] = batch;
  j["tokens_per_step"] = tokens;
  StepRunner runner(model, batch, tokens, steps + 1);
  std::vector<double> step_ms;
  step_ms.reserve(size_t(steps));  // (no allocation of this tool's own among the steps')
  PoolLoopStats loops;
  const int64_t sleeps0 = GlobalThreadPool().worker_sleeps();
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  GlobalThreadPool().set_loop_stats(&loops);
  const int64_t allocations = alloc_counter::During([&] {
    for (int s = 0; s < steps; ++s) step_ms.push_back(runner.Step(s));
  });
  GlobalThreadPool().set_loop_stats(nullptr);
  getrusage(RUSAGE_SELF, &ru1);
  const double cpu_s = double(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                       1e-6 * double(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
  j["cpu_ms_per_step"] = cpu_s * 1e3 / steps;
  j["page_faults_per_step"] = double(ru1.ru_minflt - ru0.ru_minflt) / steps;
  j["worker_sleeps_per_step"] = double(GlobalThreadPool().worker_sleeps() - sleeps0) / steps;
  // Heap allocations (operator new, all threads; core/alloc_counter.h): issue 6 asks for
  // none in the hot path. Early in a context some still show: lists that grow with it up
  // to the window and index_topk (the first steps after the 16-token prompt).
  j["heap_allocations_per_step"] = double(allocations) / steps;
  std::printf("per step: %.2f CPU ms, %.1f page faults, %.1f worker sleeps, %.2f heap allocations\n",
              double(j["cpu_ms_per_step"]), double(j["page_faults_per_step"]), double(j["worker_sleeps_per_step"]),
              double(j["heap_allocations_per_step"]));
  {  // One more step with every loop logged: the slowest loops.
    PoolLoopStats one;
    one.record_loops = true;
    GlobalThreadPool().set_loop_stats(&one);
    const double step = runner.Step(steps) / 1e3;
    GlobalThreadPool().set_loop_stats(nullptr);
    std::string seq;
    for (size_t i = 0; i < one.loops.size(); ++i) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%zu:n%zu=%.2f ", i, one.loops[i].first, one.loops[i].second * 1e3);
      seq += buf;
    }
    std::printf("one step %.2f ms, loops (index:n=ms): %s\n", step * 1e3, seq.c_str());
  }
  double total_ms = 0;
  for (double v : step_ms) total_ms += v;
  // Per step: loops handed to the pool and their wall time; the rest of the step ran on
  // the engine thread alone (serial work, inline loops, allocation).
  j["pool_loops_per_step"] = double(loops.parallel_loops) / steps;
  j["inline_loops_per_step"] = double(loops.inline_loops) / steps;
  j["parallel_ms_per_step"] = loops.parallel_seconds * 1e3 / steps;
  j["serial_ms_per_step"] = total_ms / steps - loops.parallel_seconds * 1e3 / steps;
  std::printf("per step (mean of %d): %.1f pool loops (%.2f ms), %.1f inline loops, %.2f ms "
              "serial (engine thread alone), %.2f ms total\n",
              steps, double(j["pool_loops_per_step"]), double(j["parallel_ms_per_step"]),
              double(j["inline_loops_per_step"]), double(j["serial_ms_per_step"]), total_ms / steps);
  const double p50 = Percentile(step_ms, 0.5);
  j["step_ms_p50"] = p50;
  j["step_ms_p99"] = Percentile(step_ms, 0.99);
  j["step_ms_min"] = Percentile(step_ms, 0.0);
  if (batch == 1) j["outside_gemv_ms"] = p50 - gemv_s * 1e3;
  j["ideal_step_ms_read_bw"] = gemv_bytes / (bw.read_gb_s * 1e9) * 1e3;
  std::printf("gemv total %.2f ms for %.3f GB (%.1f GB/s); batch %d step p50 %.2f p99 %.2f min %.2f ms; "
              "outside gemv %s; read bw %.1f GB/s (ideal %.2f ms); plain read of the "
              "mapped head %.1f GB/s (head GEMV alone, best of 5: %.1f GB/s)\n",
              gemv_s * 1e3, gemv_bytes / 1e9, gemv_bytes / gemv_s / 1e9, batch, p50,
              double(j["step_ms_p99"]), double(j["step_ms_min"]),
              batch == 1 ? (std::to_string(p50 - gemv_s * 1e3) + " ms").c_str() : "(batch 1 only)",
              bw.read_gb_s, double(j["ideal_step_ms_read_bw"]),
              double(j["plain_read_head_mapped_gb_s"]), double(j["head_gemv_best_gb_s"]));
  std::printf("%s\n", j.dump().c_str());
  return 0;
}
