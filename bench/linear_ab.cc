// Paired A/B of one kernels::Linear shape (bench/README.md, "Paired A/B"):
//   linear_ab [--format fp8|fp4|bf16] [--rows 4096] [--cols 4096] [--tokens 1] [--pairs 30]
//             [--copies 8]
// Each pair times one call with ExperimentSwitch() off (A) and one with it on (B), B first
// in every other pair (paired_ab.h), on all threads of the pool. The weights rotate over
// `copies` random matrices so that each call streams them from memory as a decode step
// does (--copies 1: from cache). Prints the B/A time ratios' median and quartiles.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/linear.h"
#include "flags.h"
#include "paired_ab.h"

namespace {

using dsv4::bench::Flag;

// A random matrix of the format with its own storage: FP8 codes without NaN, FP4 bytes
// uniform, ue8m0 scales 2^-9..2^-4 (FP8 per 128 x 128 block, FP4 per 32), bf16 ~ N(0, 0.05).
struct RandomMatrix {
  std::vector<uint8_t> data, scale;
  dsv4::kernels::WeightMatrix m;
  RandomMatrix(dsv4::DType dtype, int64_t rows, int64_t cols, std::mt19937& rng) {
    using dsv4::DType;
    m.dtype = dtype;
    m.rows = rows;
    m.cols = cols;
    if (dtype == DType::kBF16) {
      std::normal_distribution<float> nd(0.0f, 0.05f);
      data.resize(size_t(rows * cols * 2));
      for (int64_t i = 0; i < rows * cols; ++i) {
        const uint16_t b = dsv4::FloatToBf16(nd(rng));
        data[size_t(2 * i)] = uint8_t(b);
        data[size_t(2 * i + 1)] = uint8_t(b >> 8);
      }
    } else {
      const bool fp4 = dtype == DType::kI8;
      data.resize(size_t(fp4 ? rows * cols / 2 : rows * cols));
      for (auto& b : data) {
        b = uint8_t(rng());
        if (!fp4 && (b & 0x7F) == 0x7F) b = 0x11;
      }
      scale.resize(size_t(fp4 ? rows * (cols / 32) : ((rows + 127) / 128) * ((cols + 127) / 128)));
      for (auto& s : scale) s = uint8_t(118 + rng() % 6);
    }
    m.data = data.data();
    m.scale = scale.empty() ? nullptr : scale.data();
  }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace dsv4;
  const std::string format = Flag(argc, argv, "format", "fp8");
  const int64_t rows = std::atoll(Flag(argc, argv, "rows", "4096").c_str());
  const int64_t cols = std::atoll(Flag(argc, argv, "cols", "4096").c_str());
  const int64_t tokens = std::atoll(Flag(argc, argv, "tokens", "1").c_str());
  const int pairs = std::atoi(Flag(argc, argv, "pairs", "30").c_str());
  const int copies = std::atoi(Flag(argc, argv, "copies", "8").c_str());
  const DType dtype = format == "fp4" ? DType::kI8 : format == "bf16" ? DType::kBF16 : DType::kF8E4M3;
  if ((format != "fp8" && format != "fp4" && format != "bf16") || rows < 1 || cols < 128 || cols % 128 != 0 ||
      tokens < 1 || pairs < 1 || copies < 1) {
    std::fprintf(stderr, "linear_ab: --format fp8|fp4|bf16, --rows >= 1, --cols a multiple of 128, --tokens, "
                         "--pairs and --copies >= 1\n");
    return 1;
  }
  std::mt19937 rng(5);
  std::vector<RandomMatrix> w;
  for (int c = 0; c < copies; ++c) w.emplace_back(dtype, rows, cols, rng);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(size_t(tokens * cols)), y(size_t(tokens * rows));
  for (float& v : x) v = RoundBf16(nd(rng));
  const kernels::LinearOptions options;
  int next = 0;
  auto call = [&] {
    const auto t0 = std::chrono::steady_clock::now();
    kernels::Linear(x.data(), tokens, w[size_t(next)].m, y.data(), options);
    next = (next + 1) % copies;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  for (int i = 0; i < copies; ++i) call();  // warm-up: every copy touched once
  bench::PairedAb ab;
  for (int p = 0; p < pairs; ++p) ab.RunPair(call);
  std::printf("%s [%lld, %lld] T=%lld, %d copies: %s\n", format.c_str(), static_cast<long long>(rows),
              static_cast<long long>(cols), static_cast<long long>(tokens), copies, ab.Summary(1e3, "ms").c_str());
  return 0;
}
