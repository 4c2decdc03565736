// Throughput of each dot kernel (ref vs avx2, and avx512 for fp32) over a weight matrix of K = 4096 rows,
// in GB/s of weight bytes read. Two working sets: "l2" (256 KiB of weights, stays in L2)
// shows the kernel's compute speed, "64m" (64 MiB, well past L2) adds the memory system.
// Single-threaded; the activation row (16 KiB) stays in L1.
//   ./build/bench/dot_bench [--benchmark_filter=e4m3]
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/dot.h"

namespace dsv4::kernels {
namespace {

constexpr int64_t kCols = 4096;

enum class Format { kBf16, kF32, kE4m3, kE2m1 };

const char* FormatName(Format f) {
  switch (f) {
    case Format::kBf16:
      return "bf16";
    case Format::kF32:
      return "f32";
    case Format::kE4m3:
      return "e4m3";
    case Format::kE2m1:
      return "e2m1";
  }
  return "?";
}

// Weight bytes of one row of kCols values.
int64_t RowBytes(Format f) {
  switch (f) {
    case Format::kBf16:
      return kCols * 2;
    case Format::kF32:
      return kCols * 4;
    case Format::kE4m3:
      return kCols;
    case Format::kE2m1:
      return kCols / 2;
  }
  return 0;
}

void BM_Dot(benchmark::State& state, const DotKernels* dk, Format f, int64_t weight_bytes) {
  const int64_t rows = weight_bytes / RowBytes(f);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(kCols);
  for (auto& v : x) v = RoundBf16(dist(rng));
  std::vector<uint8_t> w(size_t(rows * RowBytes(f)) + 64);
  for (size_t i = 0; i < w.size(); ++i) {
    w[i] = uint8_t(rng());
    if (f == Format::kE4m3 && (w[i] & 0x7F) == 0x7F) w[i] = 0x38;  // no NaN codes
  }
  if (f == Format::kF32) {  // finite floats
    for (size_t i = 0; i + 4 <= w.size(); i += 4) {
      float v = dist(rng);
      std::memcpy(&w[i], &v, 4);
    }
  }
  float sink = 0.0f;
  for (auto _ : state) {
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t* row = w.data() + r * RowBytes(f);
      float acc = 0.0f;
      switch (f) {
        case Format::kBf16:
          acc = dk->dot_bf16(x.data(), reinterpret_cast<const uint16_t*>(row), kCols);
          break;
        case Format::kF32:
          acc = dk->dot_f32(x.data(), reinterpret_cast<const float*>(row), kCols);
          break;
        case Format::kE4m3:  // one call per 128-block, as Linear does
          for (int64_t b = 0; b < kCols; b += 128) acc += dk->dot_e4m3(x.data() + b, row + b, 128);
          break;
        case Format::kE2m1:  // one call per 32 values
          for (int64_t c = 0; c < kCols; c += 32) acc += dk->dot_e2m1_32(x.data() + c, row + c / 2);
          break;
      }
      sink += acc;
    }
    benchmark::DoNotOptimize(sink);
  }
  state.counters["wGB/s"] = benchmark::Counter(
      double(rows * RowBytes(f)) / 1e9 * double(state.iterations()), benchmark::Counter::kIsRate);
}

void RegisterAll() {
  std::vector<const DotKernels*> sets = {&RefDotKernels()};
  if (const DotKernels* avx2 = Avx2DotKernels()) sets.push_back(avx2);
  for (Format f : {Format::kBf16, Format::kF32, Format::kE4m3, Format::kE2m1}) {
    std::vector<const DotKernels*> format_sets = sets;
    // The AVX-512 set has a per-pair dot of its own for fp32 only (it inherits the others).
    if (const DotKernels* avx512 = Avx512DotKernels(); avx512 != nullptr && f == Format::kF32) {
      format_sets.push_back(avx512);
    }
    for (const DotKernels* dk : format_sets) {
      for (auto [label, bytes] :
           {std::pair{"l2", int64_t(256) << 10}, std::pair{"64m", int64_t(64) << 20}}) {
        std::string name = std::string("dot_") + FormatName(f) + "/" + dk->isa + "/" + label;
        benchmark::RegisterBenchmark(name.c_str(), BM_Dot, dk, f, bytes)
            ->Unit(benchmark::kMicrosecond);
      }
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
