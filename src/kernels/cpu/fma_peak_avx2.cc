// Compiled with -mavx2 -mfma. Ten independent accumulator chains hide the FMA latency;
// on AVX-512 CPUs the 16-lane chains of fma_peak_avx512.cc are measured instead.
#include <immintrin.h>

#include <algorithm>
#include <chrono>

#include "core/thread_pool.h"
#include "kernels/fma_peak.h"

namespace dsv4::kernels {

float FmaChainsAvx512(int64_t iterations);  // cpu/fma_peak_avx512.cc

namespace {

float FmaChains(int64_t iterations) {
  __m256 a[10];
  for (int i = 0; i < 10; ++i) a[i] = _mm256_set1_ps(float(i) * 1e-3f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 10
    for (int i = 0; i < 10; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
  }
  __m256 s = a[0];
  for (int i = 1; i < 10; ++i) s = _mm256_add_ps(s, a[i]);
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  return out[0];
}

}  // namespace

double MeasureFmaPeakGflops() {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0.0;
  // The widest FMA the CPU has: the ceiling for our fp32 arithmetic.
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const int lanes = avx512 ? 16 : 8;
  const size_t threads = GlobalThreadPool().size();
  const int64_t iterations = avx512 ? 10'000'000 : 20'000'000;
  double best = 0;
  volatile float sink = 0;
  for (int r = 0; r < 3; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    ParallelFor(threads, 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) sink = sink + (avx512 ? FmaChainsAvx512(iterations) : FmaChains(iterations));
    });
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(threads) * double(iterations) * 10 * lanes * 2 / s / 1e9);
  }
  return best;
}

}  // namespace dsv4::kernels
