// kernels::Linear on model-sized weights, T = 1 (decode), 8-32 (batched decode) and 512 (a prefill chunk),
// reporting weight GB/s (weight bytes incl. scales per call / time) and, for T > 1,
// the same bytes counted once per activation row ("rowGB/s" = wGB/s * T) — the rate
// the dot kernels actually see when Linear walks the weights once per row.
// Linear uses ActiveDotKernels(), chosen once per process: compare
//   DSV4_ISA=ref ./build/bench/linear_bench     and     ./build/bench/linear_bench
// Threads: the global pool (DSV4_THREADS, default all cores).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/huge_page_buffer.h"
#include "kernels/dot.h"
#include "kernels/linear.h"

namespace dsv4::kernels {
namespace {

// Weights on 2 MiB pages, as the model's checkpoint map has them, and line-aligned (FP8
// [4096, 4096] x8 at T = 1, 2 threads: 45-47 GB/s from 4 KiB pages vs 52 from 2 MiB
// ones; /tmp/kb/lf12.cc).
struct Weights {
  HugePageBuffer data;
  std::vector<uint8_t> scale;
  WeightMatrix m;
};

Weights Make(DType dtype, int64_t N, int64_t K) {
  Weights w;
  w.m.dtype = dtype;
  w.m.rows = N;
  w.m.cols = K;
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  switch (dtype) {
    case DType::kBF16:
      w.data = HugePageBuffer(size_t(N * K * 2));
      for (int64_t i = 0; i < N * K; ++i) w.data.as<uint16_t>()[i] = FloatToBf16(dist(rng));
      break;
    case DType::kF8E4M3:
      w.data = HugePageBuffer(size_t(N * K));
      for (int64_t i = 0; i < N * K; ++i) {
        uint8_t c = uint8_t(rng());
        w.data.as<uint8_t>()[i] = (c & 0x7F) == 0x7F ? uint8_t(0x38) : c;
      }
      w.scale.assign(size_t(((N + 127) / 128) * ((K + 127) / 128)), 120);
      break;
    case DType::kI8:
      w.data = HugePageBuffer(size_t(N * K / 2));
      for (int64_t i = 0; i < N * K / 2; ++i) w.data.as<uint8_t>()[i] = uint8_t(rng());
      w.scale.assign(size_t(N * (K / 32)), 124);
      break;
    case DType::kF32:
      w.data = HugePageBuffer(size_t(N * K * 4));
      for (int64_t i = 0; i < N * K; ++i) w.data.as<float>()[i] = dist(rng);
      break;
    default:
      break;
  }
  w.m.data = w.data.as<uint8_t>();
  w.m.scale = w.scale.empty() ? nullptr : w.scale.data();
  return w;
}

// `copies` distinct matrices, one Linear call on each per iteration: with enough of them
// the weights come from memory every call, as a prefill chunk's experts do (one matrix
// reused stays in the last-level cache).
void BM_Linear(benchmark::State& state, DType dtype, int64_t N, int64_t K, int64_t T, int copies) {
  std::vector<Weights> ws;
  for (int c = 0; c < copies; ++c) ws.push_back(Make(dtype, N, K));
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(size_t(T * K)), y(size_t(T * N));
  for (auto& v : x) v = RoundBf16(dist(rng));
  LinearOptions options;  // act_quant and round_bf16 on, as in the model
  for (auto _ : state) {
    for (const Weights& w : ws) Linear(x.data(), T, w.m, y.data(), options);
    benchmark::ClobberMemory();
  }
  const double calls = double(state.iterations()) * double(copies);
  const double gb = double(ws[0].m.bytes()) / 1e9 * calls;
  state.counters["wGB/s"] = benchmark::Counter(gb, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(N * K * T) / 1e9 * calls, benchmark::Counter::kIsRate);
  if (T > 1) {
    state.counters["rowGB/s"] = benchmark::Counter(gb * double(T), benchmark::Counter::kIsRate);
  }
  state.SetLabel(ActiveDotKernels().isa);
}

void RegisterAll() {
  struct Shape {
    const char* name;
    DType dtype;
    int64_t N, K;
    int copies;
  };
  for (Shape s : {Shape{"fp8_128x4096", DType::kF8E4M3, 128, 4096, 1}, Shape{"fp4_256x4096", DType::kI8, 256, 4096, 1}, Shape{"bf16_64x4096", DType::kBF16, 64, 4096, 1},
                  Shape{"fp8_4096x4096", DType::kF8E4M3, 4096, 4096, 1},
                  Shape{"fp4_2048x4096", DType::kI8, 2048, 4096, 1},
                  // 8 experts' worth: more than the last-level cache, like decode's experts
                  Shape{"fp4_16384x4096", DType::kI8, 16384, 4096, 1},
                  // 16 experts' gate projections, each called once per iteration: a prefill
                  // chunk's experts (~12 tokens each at 512 tokens) from memory
                  Shape{"fp4_2048x4096_x16", DType::kI8, 2048, 4096, 16},
                  // ... and their down projections (K = 2048)
                  Shape{"fp4_4096x2048_x16", DType::kI8, 4096, 2048, 16},
                  Shape{"fp8_4096x4096_x8", DType::kF8E4M3, 4096, 4096, 8},
                  // the q up-projection (64 heads x 512 from the 1024-wide q LoRA)
                  Shape{"fp8_32768x1024", DType::kF8E4M3, 32768, 1024, 1},
                  Shape{"bf16_4096x4096", DType::kBF16, 4096, 4096, 1},
                  // the hyper-connection mixers' F32 weights (hc_mult x D in, 24 out)
                  Shape{"f32_24x16384", DType::kF32, 24, 16384, 1},
                  // a quarter of the head (256 MiB, from memory): the batch-16 head's tiles
                  Shape{"bf16_32768x4096", DType::kBF16, 32768, 4096, 1}}) {
    // 2-12: experts' token counts (and the rows-kernel / panel boundary at 6), 16 = a
    // 16-stream decode step, 512 = a prefill chunk (the engine's default).
    for (int64_t T : {1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 48, 64, 512}) {
      std::string name = std::string("linear_") + s.name + "/T" + std::to_string(T);
      benchmark::RegisterBenchmark(name.c_str(), BM_Linear, s.dtype, s.N, s.K, T, s.copies)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
}

}  // namespace
}  // namespace dsv4::kernels

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  dsv4::kernels::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
