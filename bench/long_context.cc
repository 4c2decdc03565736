// Long-context benchmarks (issue 7), two modes; prints one JSON object per point.
//
//   long_context_bench flash [--contexts 4096,65536,262144,1048576] [--steps 8] [--prefill-4k]
//     Decode ms/token of the V4-Flash-shaped checkpoint (2 layers: CSA + HCA; cached under
//     ~/.cache/dsv4, generated on first use) at each context. The caches are filled with
//     synthetic entries of the right shapes (random FP8/FP4 codes and scales, compact
//     storage), since a real prefill of this model runs at ~18 tok/s here; --prefill-4k
//     also times decode after a real 4096-token prefill. Steps at each context alternate
//     with steps on a 4K state (speed_vs_4k: same machine load). Peak RSS (VmHWM) after
//     each point (contexts ascending; the 4K state and the current one are alive).
//     cpu_ms: median process CPU time per step (all threads), steadier than wall time
//     when other jobs share the machine.
//   long_context_bench e2e [--tokens 1048448] [--decode 32] [--chunk 4096] [--dir D]
//     A real end-to-end run of a small V4-architecture model (CSA + HCA layers, 1M
//     max_position_embeddings, written to D): prefills --tokens random tokens in chunks
//     (progress on stderr), then decodes; reports times and peak RSS.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "model/forward/costs.h"
#include "model/forward/model.h"
#include "model/synthetic_checkpoint.h"
#include "flags.h"

namespace dsv4 {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// kB field of /proc/self/status ("VmRSS", "VmHWM").
int64_t ProcStatusKb(const std::string& field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1);
  }
  return -1;
}

// Flags after the subcommand (argv[1]).
std::string Flag(int argc, char** argv, const std::string& name, const std::string& def) {
  return bench::Flag(argc, argv, name, def, 2);
}
bool HasFlag(int argc, char** argv, const std::string& name) {
  for (int i = 2; i < argc; ++i) {
    if (argv[i] == "--" + name) return true;
  }
  return false;
}

// Fills `state` as if n tokens had been processed: random but well-formed compact
// entries (finite e4m3 codes, modest scales, bf16 rope values; FP4 keys).
void FillSynthetic(const ModelConfig& c, SequenceState* state, int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto byte = [&] { return uint8_t(rng()); };
  auto fill_entries = [&](KvEntries& e, int64_t count) {
    const int64_t nope = c.head_dim - c.qk_rope_head_dim, eb = e.entry_bytes();
    std::vector<uint8_t>& b = e.bytes();
    b.resize(size_t(count * eb));
    for (int64_t j = 0; j < count; ++j) {
      uint8_t* p = &b[size_t(j * eb)];
      for (int64_t i = 0; i < nope; ++i) {
        uint8_t v = byte();
        if ((v & 0x7f) == 0x7f) v ^= 1;  // not NaN
        p[i] = v;
      }
      uint16_t* rope = reinterpret_cast<uint16_t*>(p + nope);
      for (int64_t i = 0; i < c.qk_rope_head_dim; ++i) rope[i] = uint16_t(0x3c00 + (rng() % 0x300)) ^ uint16_t((rng() & 1) << 15);
      for (int64_t i = 0; i < nope / 64; ++i) p[nope + 2 * c.qk_rope_head_dim + i] = uint8_t(118 + rng() % 4);
    }
  };
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    LayerState& s = state->layer(l);
    fill_entries(s.window_kv, s.window);
    const int64_t ratio = c.CompressRatio(l);
    if (ratio > 0) fill_entries(s.compressed, n / ratio);
    if (ratio == 4) {
      const int64_t keys = n / 4, hd = c.index_head_dim;
      s.index_keys.codes().resize(size_t(keys * hd / 2));
      for (uint8_t& v : s.index_keys.codes()) v = byte();
      s.index_keys.scales().resize(size_t(keys * hd / 32));
      for (uint8_t& v : s.index_keys.scales()) v = uint8_t(122 + rng() % 4);
    }
  }
  state->set_length(n);
}

// CPU time of the whole process (all threads), seconds: on this shared machine less
// sensitive to other jobs than wall time (the pool's brief spin-waits are included).
double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Times `steps` single-token decode steps on `state`; returns ms per step (median), and
// the median process CPU ms per step in *cpu_ms if given.
double DecodeMs(const Model& model, SequenceState* state, int steps, double* cpu_ms = nullptr) {
  std::vector<double> ms, cpu;
  std::vector<float> logits;
  for (int i = 0; i < steps; ++i) {
    std::vector<ForwardSegment> segs(1);
    segs[0].state = state;
    segs[0].tokens = {int32_t(2 + (i * 37) % 1000)};
    segs[0].logits = &logits;
    const auto t0 = Clock::now();
    const double c0 = ProcessCpuSeconds();
    model.Forward(segs, {});
    ms.push_back(Seconds(t0, Clock::now()) * 1e3);
    cpu.push_back((ProcessCpuSeconds() - c0) * 1e3);
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  if (cpu_ms) *cpu_ms = cpu[cpu.size() / 2];
  return ms[ms.size() / 2];
}

// Prefills `tokens` in chunks, reporting progress on stderr.
void Prefill(const Model& model, SequenceState* state, const std::vector<int32_t>& tokens,
             int64_t chunk) {
  const auto t0 = Clock::now();
  std::vector<float> logits;
  for (size_t i = 0; i < tokens.size(); i += size_t(chunk)) {
    std::vector<ForwardSegment> segs(1);
    segs[0].state = state;
    segs[0].tokens.assign(tokens.begin() + int64_t(i),
                          tokens.begin() + int64_t(std::min(tokens.size(), i + size_t(chunk))));
    segs[0].logits = &logits;
    model.Forward(segs, {});
    const double s = Seconds(t0, Clock::now());
    std::fprintf(stderr, "prefill %lld / %zu tokens, %.0f s, %.1f tok/s, rss %.2f GiB\n",
                 (long long)state->length(), tokens.size(), s, double(state->length()) / s,
                 double(ProcStatusKb("VmRSS")) / (1 << 20));
  }
}

int Flash(int argc, char** argv) {
  std::vector<int64_t> contexts;
  std::stringstream ss(Flag(argc, argv, "contexts", "4096,65536,262144,1048576"));
  for (std::string item; std::getline(ss, item, ',');) contexts.push_back(std::atoll(item.c_str()));
  const int steps = std::atoi(Flag(argc, argv, "steps", "8").c_str());
  const std::string dir = EnsureFlashShapedCheckpoint("", 2);
  auto loaded = Model::Load(dir);
  if (!loaded.ok()) throw Error(loaded.error());
  const Model& model = *loaded.value();
  const ModelConfig& c = model.config();
  std::printf("{\"model\": \"%s\", \"rss_after_load_gib\": %.2f}\n", dir.c_str(),
              double(ProcStatusKb("VmRSS")) / (1 << 20));
  if (HasFlag(argc, argv, "prefill-4k")) {
    auto state = model.NewState(false);
    std::vector<int32_t> tokens(4096);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = int32_t(2 + (i * 7919) % 1000);
    const auto t0 = Clock::now();
    Prefill(model, state.get(), tokens, 512);
    const double prefill_s = Seconds(t0, Clock::now());
    const double ms = DecodeMs(model, state.get(), steps);
    std::printf("{\"context\": 4096, \"fill\": \"prefill\", \"prefill_s\": %.1f, \"decode_ms\": %.1f, "
                "\"state_bytes\": %lld, \"peak_rss_gib\": %.2f}\n",
                prefill_s, ms, (long long)state->bytes(), double(ProcStatusKb("VmHWM")) / (1 << 20));
    std::fflush(stdout);
  }
  // Each context's steps alternate with steps at 4K (a separate state), so the ratio
  // compares the two under the same machine load (other jobs share the two cores).
  auto base = model.NewState(false);
  FillSynthetic(c, base.get(), 4096, 1);
  for (int64_t n : contexts) {
    // The 1M point leaves room for the decode steps within max_position_embeddings.
    n = std::min<int64_t>(n, c.max_position_embeddings - 2 * steps - 2);
    auto state = model.NewState(false);
    FillSynthetic(c, state.get(), n, uint64_t(n));
    DecodeMs(model, state.get(), 1);  // warm-up step
    std::vector<double> at_n, at_4k, cpu_n, cpu_4k;
    for (int i = 0; i < steps; ++i) {
      double cpu = 0.0;
      at_n.push_back(DecodeMs(model, state.get(), 1, &cpu));
      cpu_n.push_back(cpu);
      at_4k.push_back(DecodeMs(model, base.get(), 1, &cpu));
      cpu_4k.push_back(cpu);
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    const double ms = median(at_n), ms4k = median(at_4k);
    std::printf("{\"context\": %lld, \"fill\": \"synthetic\", \"decode_ms\": %.1f, \"tok_s\": %.2f, "
                "\"decode_ms_4k_interleaved\": %.1f, \"speed_vs_4k\": %.3f, \"cpu_ms\": %.1f, "
                "\"cpu_ms_4k_interleaved\": %.1f, \"state_bytes\": %lld, "
                "\"kv_bytes_at\": %lld, \"peak_rss_gib\": %.2f}\n",
                (long long)n, ms, 1e3 / ms, ms4k, ms4k / ms, median(cpu_n), median(cpu_4k),
                (long long)state->bytes(),
                (long long)KvBytesAt(c, state->length()), double(ProcStatusKb("VmHWM")) / (1 << 20));
    std::fflush(stdout);
  }
  return 0;
}

// A small model with V4's architecture: one CSA and one HCA layer, a single attention
// head of 96 dims (64 FP8 + 32 rope), a one-head 64-dim indexer (the indexer's prefill
// work is n^2/8 key scores: 1.4e11 at 1M tokens), 1M positions.
std::string SmallLongConfig() {
  nlohmann::json j = {
      {"architectures", {"DeepseekV4ForCausalLM"}}, {"model_type", "deepseek_v4"},
      {"bos_token_id", 0}, {"eos_token_id", 1}, {"num_key_value_heads", 1},
      {"n_shared_experts", 1}, {"scoring_func", "sqrtsoftplus"}, {"topk_method", "noaux_tc"},
      {"norm_topk_prob", true}, {"hidden_act", "silu"}, {"hc_mult", 4},
      {"hc_sinkhorn_iters", 20}, {"hc_eps", 1e-6}, {"rms_norm_eps", 1e-6},
      {"rope_theta", 10000}, {"compress_rope_theta", 160000}, {"num_nextn_predict_layers", 0},
      {"tie_word_embeddings", false}, {"torch_dtype", "bfloat16"}, {"vocab_size", 1024},
      {"hidden_size", 128}, {"num_hidden_layers", 2}, {"compress_ratios", {4, 128}},
      {"num_hash_layers", 0}, {"num_attention_heads", 1}, {"head_dim", 96},
      {"qk_rope_head_dim", 32}, {"q_lora_rank", 128}, {"o_groups", 1}, {"o_lora_rank", 128},
      {"sliding_window", 128}, {"index_n_heads", 1}, {"index_head_dim", 64},
      {"index_topk", 64}, {"n_routed_experts", 4}, {"num_experts_per_tok", 2},
      {"moe_intermediate_size", 128}, {"routed_scaling_factor", 1.5}, {"swiglu_limit", 10.0},
      {"max_position_embeddings", 1048576},
      {"rope_scaling", {{"type", "yarn"}, {"factor", 16}, {"original_max_position_embeddings", 65536},
                        {"beta_fast", 32}, {"beta_slow", 1}}}};
  return j.dump(2);
}

int EndToEnd(int argc, char** argv) {
  const int64_t n = std::atoll(Flag(argc, argv, "tokens", "1048448").c_str());
  const int decode = std::atoi(Flag(argc, argv, "decode", "32").c_str());
  const int64_t chunk = std::atoll(Flag(argc, argv, "chunk", "4096").c_str());
  const std::string dir = Flag(argc, argv, "dir", "/tmp/dsv4-long-e2e");
  WriteSyntheticCheckpoint(dir, SmallLongConfig(), 7);
  auto loaded = Model::Load(dir);
  if (!loaded.ok()) throw Error(loaded.error());
  const Model& model = *loaded.value();
  Require(n + decode <= model.config().max_position_embeddings, "context over the model's limit");
  auto state = model.NewState(false);
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  std::mt19937 rng(1);
  for (int32_t& t : tokens) t = int32_t(2 + rng() % 1000);
  const auto t0 = Clock::now();
  Prefill(model, state.get(), tokens, chunk);
  const double prefill_s = Seconds(t0, Clock::now());
  const double ms = DecodeMs(model, state.get(), decode);
  std::printf("{\"prefill_tokens\": %lld, \"prefill_s\": %.1f, \"prefill_tok_s\": %.1f, "
              "\"decode_steps\": %d, \"decode_ms_p50\": %.2f, \"context_at_end\": %lld, "
              "\"state_bytes\": %lld, \"kv_bytes_at\": %lld, \"peak_rss_gib\": %.3f}\n",
              (long long)n, prefill_s, double(n) / prefill_s, decode, ms,
              (long long)state->length(), (long long)state->bytes(),
              (long long)KvBytesAt(model.config(), state->length()),
              double(ProcStatusKb("VmHWM")) / (1 << 20));
  return 0;
}

}  // namespace
}  // namespace dsv4

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "flash") return dsv4::Flash(argc, argv);
    if (mode == "e2e") return dsv4::EndToEnd(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "long_context_bench: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: long_context_bench flash|e2e [flags] (see bench/long_context.cc)\n");
  return 2;
}
