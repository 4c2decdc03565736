// dsv4 bench [--model DIR] [--json] [--layers N] [--prefill 512,4096] [--batch 1,4,16]
//            [--steps N] [--context N] [--repeats N] [--cache-dir DIR] [--mlock]
// Prefill and decode throughput of the serving forward (fast kernels), against this
// machine's measured memory bandwidth (decode roofline) and FMA peak (prefill). Without
// --model it generates, once, a checkpoint with V4-Flash's layer shapes and dtypes but
// few layers (cached under --cache-dir, default $XDG_CACHE_HOME/dsv4 or ~/.cache/dsv4).
// --repeats N: each prefill length N times (a fresh sequence each) and N rounds of --steps
// decode steps per batch size, the medians reported with the fastest and slowest (on a
// shared machine single runs vary by 15% and more).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <fstream>
#include <string>
#include <random>

#include "args.h"
#include "commands.h"
#include "core/bandwidth.h"
#include "core/thread_pool.h"
#include "kernels/dot.h"
#include "kernels/fma_peak.h"
#include "kernels/linear_amx.h"
#include "kernels/precision.h"
#include "kernels/tile_order.h"
#include "model/forward/costs.h"
#include "model/forward/model.h"
#include "model/synthetic_checkpoint.h"
#include "model_load.h"

namespace dsv4::cli {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<int64_t> ParseList(const std::string& s) {
  std::vector<int64_t> v;
  for (int32_t x : ParseTokenList(s)) v.push_back(x);
  return v;
}

std::vector<int32_t> RandomTokens(int64_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int32_t& v : t) v = int32_t(rng() % uint32_t(vocab));
  return t;
}

// CPU seconds this process has used (all threads).
double CpuSeconds() {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Weight bytes of one decode step of B sequences expected under uniform routing: the
// dense weights once, and each routed expert of each MoE layer once if any of the B * k
// routed slots picks it (E * (1 - (1 - k/E)^B) distinct experts per layer). With
// B = 1 this is the model's weight bytes per token.
double ExpectedStepWeightBytes(const Model& model, int64_t per_token, int64_t B) {
  const ModelConfig& c = model.config();
  double experts = 0;  // all routed experts of the main layers
  for (const auto& [name, t] : model.checkpoint().tensors()) {
    if (name.rfind("mtp.", 0) != 0 && name.find(".ffn.experts.") != std::string::npos) {
      experts += double(t->nbytes);
    }
  }
  const double share = double(c.num_experts_per_tok) / double(c.n_routed_experts);
  const double dense = double(per_token) - experts * share;
  return dense + experts * (1.0 - std::pow(1.0 - share, double(B)));
}

// The process's peak resident set: VmHWM from /proc/self/status (reset after the first
// bandwidth measurement), else getrusage's high-water mark.
int64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmHWM:  123 kB"
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return int64_t(usage.ru_maxrss) * 1024;
}

// The CPU's name as the kernel reports it ("" where /proc/cpuinfo has none): the same
// code runs at very different speeds on the machines this is measured on (the head's
// bf16 tile ran 426-435 GFLOP/s a core on an AMD EPYC VM; vdpbf16ps alone tops out at
// 78-87 on an Intel Xeon VM; bench/RESULTS.md).
std::string CpuModelName() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
  }
  return "";
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

}  // namespace

int BenchCommand(int argc, char** argv) {
  Args args(argc, argv, 2, {"json", "mlock"},
            {"model", "layers", "prefill", "batch", "steps", "context", "repeats", "cache-dir"});
  const int layers = int(args.GetInt("layers", 2));
  const std::vector<int64_t> prefills = ParseList(args.Get("prefill", "512,4096"));
  const std::vector<int64_t> batches = ParseList(args.Get("batch", "1,4,16"));
  const int64_t steps = args.GetInt("steps", 8);
  const int64_t context = args.GetInt("context", 64);  // prompt length before decoding
  const int64_t repeats = args.GetInt("repeats", 1);
  if (repeats < 1) throw Error("--repeats must be at least 1");
  const ForwardOptions options;
  const std::string model_dir = args.Has("model") ? args.Get("model")
                                                  : EnsureFlashShapedCheckpoint(args.Get("cache-dir"), layers);

  // Bandwidth and FMA peak are measured before and after the timed work and the higher
  // reading is the roofline: on a shared machine one reading can fall far (copy 38 vs 69
  // GB/s, FMA 353 vs 444 GFLOP/s within minutes here), which would inflate the ratios; the
  // higher one is what the machine can do. Peak RSS is counted after the first measurement
  // and read before the second, so their 1 GB of buffers is not in it.
  const BandwidthResult bw_start = MeasureBandwidth(size_t(512) << 20, 3);
  const double fma_peak_start = kernels::MeasureFmaPeakGflops();
  // Peak RSS from here on: Linux resets the high-water mark (VmHWM) on "5" to clear_refs.
  std::ofstream("/proc/self/clear_refs") << "5";

  const auto load_start = std::chrono::steady_clock::now();
  const std::unique_ptr<Model> loaded = LoadCommandModel(model_dir, args);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  const Model& model = *loaded;
  const ModelConfig& c = model.config();
  nlohmann::ordered_json j;
  j["model"] = model_dir;
  // Wall time of Model::Load (the checkpoint already in the page cache after the first
  // run), and where its blocked BF16 copies came from (row_blocks_cache.h): a first load
  // packs and writes the cache file, later ones map it.
  j["load_s"] = load_s;
  j["packed_weights"] = RowBlocksOriginName(model.row_blocks_origin());
  j["threads"] = GlobalThreadPool().size();
  j["cpu"] = CpuModelName();
  // The set's name, "+amx" (the head on AMX tiles), "+tileorder" (FP8/FP4 products in tile
  // order: kernels/tile_order.h) or else "+fp4fma" (FP4 decode products on FMAs: dot.h
  // e2m1_weight_rows_fma) — which kernels a report's numbers come from.
  const kernels::DotKernels& dk = kernels::ActiveDotKernels();
  const bool tile_order = kernels::TileOrderActive();
  j["kernels"] = std::string(dk.isa) + (kernels::AmxActive() ? "+amx" : "") + (tile_order ? "+tileorder" : "") +
                 (!tile_order && dk.e2m1_weight_rows_fma != nullptr && dk.e2m1_fma_preferred ? "+fp4fma" : "");
  // false with DSV4_BATCH_INVARIANT=0: batched FP8/FP4 products on AMX (kernels/precision.h).
  j["batch_invariant"] = kernels::BatchInvariant();
  double prefill_gflop_s = 0;  // of the first prefill length
  const int64_t weight_bytes = WeightBytesPerToken(model.checkpoint(), c);
  j["weight_bytes_per_token"] = weight_bytes;
  j["kv_bytes_per_token"] = KvBytesPerToken(c);

  // Warm-up, untimed: a process's first forward pass grows the reused forward buffers and
  // faults their pages in (4 KiB faults cost microseconds each in a VM): a 512-token chunk
  // of the benchmark model took ~5.3 s first and ~3.4 s after. A server pays that once,
  // not per prompt, so the prefill figures below are of a warm process.
  if (!prefills.empty()) {
    auto state = model.NewState(false);
    std::vector<ForwardSegment> segs(1);
    segs[0].state = state.get();
    segs[0].tokens = RandomTokens(std::min<int64_t>(512, prefills.front()), c.vocab_size, 2);
    model.Forward(segs, options);
  }
  // Prefill: one sequence, the prompt in chunks of 512 tokens (the engine's default).
  for (int64_t n : prefills) {
    const std::vector<int32_t> tokens = RandomTokens(n, c.vocab_size, 1);
    std::vector<double> runs;  // seconds
    for (int64_t rep = 0; rep < repeats; ++rep) {
      auto state = model.NewState(false);
      const double t0 = Now();
      for (int64_t b = 0; b < n; b += 512) {
        std::vector<float> logits;
        std::vector<ForwardSegment> segs(1);
        segs[0].state = state.get();
        segs[0].tokens.assign(tokens.begin() + b, tokens.begin() + std::min(n, b + 512));
        segs[0].logits = b + 512 >= n ? &logits : nullptr;
        model.Forward(segs, options);
      }
      runs.push_back(Now() - t0);
    }
    const double secs = Percentile(runs, 0.5);
    double macs = 0;
    for (int64_t p = 0; p < n; ++p) macs += MacsPerToken(c, p + 1);
    const std::string key = "prefill" + std::to_string(n);
    j[key + "_tok_s"] = double(n) / secs;
    j[key + "_gflop_s"] = 2 * macs / secs / 1e9;
    if (repeats > 1) {
      j[key + "_tok_s_min"] = double(n) / Percentile(runs, 1.0);
      j[key + "_tok_s_max"] = double(n) / Percentile(runs, 0.0);
    }
    if (n == prefills.front()) {
      j["prefill_tok_s"] = double(n) / secs;
      prefill_gflop_s = 2 * macs / secs / 1e9;
    }
  }

  // Decode: B sequences with `context` prompt tokens, then `repeats` rounds of `steps`
  // steps of one token each; tokens/s is the median round (as prefill's median run: one
  // round during a neighbour's burst no longer sets the figure), with the slowest and
  // fastest rounds. At batch 1 the copy bandwidth is also measured just before each round:
  // `roofline_ratio_paired` is the median of each round's bytes/s over that reading (the
  // machine's bandwidth at that moment), while `roofline_ratio` stays against the highest
  // reading of the whole run.
  double decode1 = 0, decode1_bytes_per_s = 0;
  std::vector<double> bandwidth_readings = {bw_start.copy_gb_s};
  std::vector<double> paired_ratios;
  int64_t peak_rss_before_readings = 0;
  // B sequences with `context` prompt tokens each, and one decode step for all of them.
  struct Batch {
    std::vector<std::unique_ptr<SequenceState>> states;
    std::vector<ForwardSegment> segs;
    std::vector<std::vector<float>> logits;
    int64_t next = 0;  // steps run so far
    void Step(const Model& model, const ForwardOptions& options, int64_t vocab) {
      for (size_t i = 0; i < segs.size(); ++i) {
        segs[i].tokens = {int32_t((next * 7 + int64_t(i)) % vocab)};
        segs[i].logits = &logits[i];
      }
      ++next;
      model.Forward(segs, options);
    }
  };
  auto make_batch = [&](int64_t B) {
    auto batch = std::make_unique<Batch>();
    batch->segs.resize(size_t(B));
    batch->logits.resize(size_t(B));
    for (int64_t i = 0; i < B; ++i) {
      batch->states.push_back(model.NewState(false));
      batch->segs[size_t(i)].state = batch->states.back().get();
      batch->segs[size_t(i)].tokens = RandomTokens(context, c.vocab_size, uint32_t(10 + i));
    }
    model.Forward(batch->segs, options);
    return batch;
  };
  // Batch 1 kept for the paired ratios: on a shared machine the batch-1 figure, measured
  // before the larger batches, may come from a busier or quieter minute than theirs; each
  // larger batch's round is also timed against a batch-1 round run just before it, and
  // `decode_tok_s_batchB_vs_1_paired` is the median of those per-round ratios.
  std::unique_ptr<Batch> one;
  for (int64_t B : batches) {
    std::unique_ptr<Batch> batch = make_batch(B);
    const int64_t bytes = weight_bytes + KvReadBytesPerToken(c, context + steps * repeats / 2);
    std::vector<double> step_ms, round_tok_s, round_vs_1;
    double wall = 0, cpu = 0;
    for (int64_t round = 0; round < repeats; ++round) {
      double round_copy_gb_s = 0;
      if (B == 1) {
        // (Its 1 GB of buffers kept out of the peak RSS: the peak so far is read before,
        // and the high-water mark reset after they are freed.)
        peak_rss_before_readings = std::max(peak_rss_before_readings, PeakRssBytes());
        round_copy_gb_s = MeasureBandwidth(size_t(512) << 20, 3).copy_gb_s;
        std::ofstream("/proc/self/clear_refs") << "5";
        bandwidth_readings.push_back(round_copy_gb_s);
      }
      double one_tok_s = 0;
      if (B > 1 && one != nullptr) {
        const double t0 = Now();
        for (int64_t i_step = 0; i_step < steps; ++i_step) one->Step(model, options, c.vocab_size);
        one_tok_s = double(steps) / (Now() - t0);
      }
      const double t0 = Now(), cpu0 = CpuSeconds();
      for (int64_t i_step = 0; i_step < steps; ++i_step) {
        const double s0 = Now();
        batch->Step(model, options, c.vocab_size);
        step_ms.push_back((Now() - s0) * 1e3);
      }
      const double round_wall = Now() - t0;
      wall += round_wall;
      cpu += CpuSeconds() - cpu0;
      round_tok_s.push_back(double(B * steps) / round_wall);
      if (B == 1) paired_ratios.push_back(double(bytes) * round_tok_s.back() / (round_copy_gb_s * 1e9));
      if (one_tok_s > 0) round_vs_1.push_back(round_tok_s.back() / one_tok_s);
    }
    const double tok_s = Percentile(round_tok_s, 0.5);
    const std::string key = "decode_tok_s" + (B == 1 ? std::string() : "_batch" + std::to_string(B));
    j[key] = tok_s;
    if (repeats > 1) {
      j[key + "_min"] = Percentile(round_tok_s, 0.0);
      j[key + "_max"] = Percentile(round_tok_s, 1.0);
    }
    // Threads busy on average (up to the pool size): well below it on an idle machine
    // means waiting on memory or the pool; on a shared machine, also other processes.
    j[key + "_cpu_busy_threads"] = cpu / wall;
    j[key + "_step_ms_p50"] = Percentile(step_ms, 0.5);
    j[key + "_step_ms_p99"] = Percentile(step_ms, 0.99);
    if (B == 1) {
      decode1 = tok_s;
      j["decode_bytes_per_token"] = bytes;
      decode1_bytes_per_s = double(bytes) * tok_s;
      one = std::move(batch);
    } else if (decode1 > 0) {
      j[key + "_vs_1"] = tok_s / decode1;
      if (!round_vs_1.empty()) j[key + "_vs_1_paired"] = Percentile(round_vs_1, 0.5);
      // The most batching can gain when each step is bound by the weight bytes it reads.
      j[key + "_bytes_bound_vs_1"] = double(B) * ExpectedStepWeightBytes(model, weight_bytes, 1) /
                                     ExpectedStepWeightBytes(model, weight_bytes, B);
    }
  }
  const int64_t peak_rss_bytes = std::max(peak_rss_before_readings, PeakRssBytes());
  const BandwidthResult bw_end = MeasureBandwidth(size_t(512) << 20, 3);
  bandwidth_readings.push_back(bw_end.copy_gb_s);
  const double copy_gb_s = *std::max_element(bandwidth_readings.begin(), bandwidth_readings.end());
  const double read_gb_s = std::max(bw_start.read_gb_s, bw_end.read_gb_s);
  j["measured_bandwidth_gb_s"] = copy_gb_s;
  j["measured_read_bandwidth_gb_s"] = read_gb_s;
  j["measured_bandwidth_gb_s_start"] = bw_start.copy_gb_s;
  j["measured_bandwidth_gb_s_end"] = bw_end.copy_gb_s;
  const double fma_peak = std::max(fma_peak_start, kernels::MeasureFmaPeakGflops());
  j["measured_fma_peak_gflop_s"] = fma_peak;
  if (prefill_gflop_s > 0) j["prefill_fma_peak_ratio"] = fma_peak > 0 ? prefill_gflop_s / fma_peak : 0;
  if (decode1_bytes_per_s > 0) {
    j["roofline_ratio"] = decode1_bytes_per_s / (copy_gb_s * 1e9);
    j["roofline_ratio_read_bandwidth"] = decode1_bytes_per_s / (read_gb_s * 1e9);
    j["roofline_ratio_paired"] = Percentile(paired_ratios, 0.5);
  }
  j["peak_rss_bytes"] = peak_rss_bytes;

  PrintReport(j, args.Has("json"));
  return 0;
}

}  // namespace dsv4::cli
