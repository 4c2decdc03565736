// The FMA peak on 64-bit ARM (NEON: 4 fp32 lanes per FMA, in every AArch64 CPU). Sixteen
// independent chains cover an FMA latency of 4 cycles on up to 4 pipes (Neoverse V1/V2).
#include <arm_neon.h>

#include <algorithm>
#include <chrono>

#include "core/thread_pool.h"
#include "kernels/fma_peak.h"

namespace dsv4::kernels {
namespace {

constexpr int kChains = 16, kLanes = 4;

float FmaChains(int64_t iterations) {
  float32x4_t a[kChains];
  for (int i = 0; i < kChains; ++i) a[i] = vdupq_n_f32(float(i) * 1e-3f);
  const float32x4_t m = vdupq_n_f32(0.999999f), c = vdupq_n_f32(1e-7f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) a[i] = vfmaq_f32(c, a[i], m);  // c + a * m
  }
  float32x4_t s = a[0];
  for (int i = 1; i < kChains; ++i) s = vaddq_f32(s, a[i]);
  return vgetq_lane_f32(s, 0);
}

}  // namespace

double MeasureFmaPeakGflops() {
  const size_t threads = GlobalThreadPool().size();
  constexpr int64_t kIterations = 10'000'000;
  double best = 0;
  volatile float sink = 0;
  for (int r = 0; r < 3; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    ParallelFor(threads, 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) sink = sink + FmaChains(kIterations);
    });
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(threads) * double(kIterations) * kChains * kLanes * 2 / s / 1e9);
  }
  return best;
}

}  // namespace dsv4::kernels
