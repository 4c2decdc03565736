// What bounds a decode kernel on this machine, measured (plain executable):
//   machine_probe [--gib 1]
// 1. Memory: the copy bandwidth `dsv4 bench` divides by (core/bandwidth.h) beside the best
//    read-only bandwidth over access patterns (1-16 streams per thread, software prefetch
//    0-4 KiB ahead into L1 or L2, on every thread of the pool, a huge-page buffer). Decode
//    only reads weights, so the best read over copy is the most its roofline ratio can be.
// 2. Vector throughput of the instructions the FP4/FP8 decode kernels are built from (or
//    were measured as candidates), in instructions per cycle of one core: 12 independent
//    chains each, cycles from a dependent chain of vpaddd (1-cycle latency).
// 3. The FP4 tile-order kernel's cycles per 16 weight bytes from L1 / L2, against the 3 of
//    its loop's port bound.
// x86-64 with AVX-512 BW/VBMI/BF16 for parts 2 and 3 (skipped elsewhere).
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as pass-through operands, which
// its own -W(maybe-)uninitialized then reports inside the header (as in dot_avx512.cc).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/bandwidth.h"
#include "core/huge_page_buffer.h"
#include "core/thread_pool.h"
#include "kernels/tile_order.h"
#include "flags.h"

namespace {

using dsv4::bench::Flag;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double BestReadGbS(const char* p, size_t bytes, dsv4::ReadPattern pattern, int repeats) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) best = std::min(best, dsv4::ReadOnce(p, bytes, pattern));
  return double(bytes) / best / 1e9;
}

void ProbeMemory(size_t bytes) {
  dsv4::HugePageBuffer buffer(bytes);
  char* p = buffer.as<char>();
  for (size_t i = 0; i < bytes; i += 4096) p[i] = char(i);  // fault the pages in first
  std::memset(p, 1, bytes);
  const dsv4::BandwidthResult b = dsv4::MeasureBandwidth(bytes, 5);
  std::printf("memory, %zu threads, %.2f GiB buffers\n", dsv4::GlobalThreadPool().size(),
              double(bytes) / double(1ull << 30));
  std::printf("  copy (dsv4 bench's roofline denominator)   %6.1f GB/s\n", b.copy_gb_s);
  std::printf("  read (dsv4 bench's read figure: the better of 4 streams and 1, prefetch 4 KiB) %6.1f GB/s\n", b.read_gb_s);
  double best = 0;
  auto row = [&](const char* name, double gb_s) {
    best = std::max(best, gb_s);
    std::printf("  read %-38s %6.1f GB/s\n", name, gb_s);
  };
  constexpr int kRepeats = 5;
  row("1 stream, no prefetch", BestReadGbS(p, bytes, {.streams = 1, .ahead = 0}, kRepeats));
  row("1 stream, prefetch 4 KiB", BestReadGbS(p, bytes, {.streams = 1, .ahead = 4096}, kRepeats));
  row("2 streams, no prefetch", BestReadGbS(p, bytes, {.streams = 2, .ahead = 0}, kRepeats));
  row("4 streams, no prefetch", BestReadGbS(p, bytes, {.streams = 4, .ahead = 0}, kRepeats));
  row("4 streams, prefetch 1 KiB", BestReadGbS(p, bytes, {.streams = 4, .ahead = 1024}, kRepeats));
  row("4 streams, prefetch 4 KiB", BestReadGbS(p, bytes, {.streams = 4, .ahead = 4096}, kRepeats));
  row("4 streams, prefetch 4 KiB into L2", BestReadGbS(p, bytes, {.streams = 4, .ahead = 4096, .l2 = true}, kRepeats));
  row("8 streams, no prefetch", BestReadGbS(p, bytes, {.streams = 8, .ahead = 0}, kRepeats));
  row("8 streams, prefetch 2 KiB", BestReadGbS(p, bytes, {.streams = 8, .ahead = 2048}, kRepeats));
  row("16 streams, no prefetch", BestReadGbS(p, bytes, {.streams = 16, .ahead = 0}, kRepeats));
  row("16 streams, prefetch 1 KiB", BestReadGbS(p, bytes, {.streams = 16, .ahead = 1024}, kRepeats));
  std::printf("  best read / copy: %.3f (the highest roofline ratio a decode that only read could reach)\n",
              best / b.copy_gb_s);
}

#if defined(__x86_64__)
// Instructions per cycle of 12 independent chains of OP (each instruction depends on the
// previous one of its chain only), from `cycle` seconds per cycle.
#define DSV4_PROBE_12(OP) OP(x0) OP(x1) OP(x2) OP(x3) OP(x4) OP(x5) OP(x6) OP(x7) OP(x8) OP(x9) OP(x10) OP(x11)
#define DSV4_PROBE_RUN(NAME, TYPE, INIT, OP)                                                              \
  {                                                                                                       \
    TYPE x0 = INIT, x1 = INIT, x2 = INIT, x3 = INIT, x4 = INIT, x5 = INIT, x6 = INIT, x7 = INIT, x8 = INIT, \
         x9 = INIT, x10 = INIT, x11 = INIT;                                                               \
    t0 = Now();                                                                                           \
    for (long i = 0; i < kIterations; ++i) {                                                              \
      DSV4_PROBE_12(OP)                                                                                   \
      asm volatile("" : "+v"(x0), "+v"(x1), "+v"(x2), "+v"(x3), "+v"(x4), "+v"(x5), "+v"(x6), "+v"(x7),   \
                   "+v"(x8), "+v"(x9), "+v"(x10), "+v"(x11));                                             \
    }                                                                                                     \
    std::printf("  %-44s %5.2f\n", NAME, 12.0 / ((Now() - t0) / double(kIterations) / cycle));           \
  }

// Seconds per cycle of this core under AVX-512 load: a dependent chain of vpaddd (one
// cycle each).
__attribute__((target("avx512f"))) double SecondsPerCycle() {
  constexpr long kIterations = 20000000;
  const __m512i one = _mm512_set1_epi32(1);
  __m512i chain = one;
  const double t0 = Now();
  for (long i = 0; i < kIterations; ++i) {
    // Unrolled: as a loop of one add, the taken branch held it to one add per two cycles.
#pragma GCC unroll 32
    for (int k = 0; k < 32; ++k) {
      chain = _mm512_add_epi32(chain, one);
      asm volatile("" : "+v"(chain));
    }
  }
  return (Now() - t0) / double(kIterations) / 32;
}

__attribute__((target("avx512f,avx512bw,avx512vbmi,avx512bf16"))) void ProbeInstructions(double cycle) {
  constexpr long kIterations = 20000000;
  const __m512i bits = _mm512_set1_epi32(0x3F803F80), one = _mm512_set1_epi32(1);
  const __m512 f = _mm512_castsi512_ps(bits);
  const __m512bh bf = (__m512bh)bits;
  double t0 = 0;
  std::printf("vector instructions per cycle, one core (%.2f GHz from a vpaddd chain)\n", 1e-9 / cycle);
#define ADD(x) x = _mm512_add_epi32(x, one);
#define FMA(x) x = _mm512_fmadd_ps(x, f, x);
#define DPBF16(x) x = _mm512_dpbf16_ps(x, bf, bf);
#define PERMPS(x) x = _mm512_permutexvar_ps(_mm512_castps_si512(x), f);
#define PERMW(x) x = _mm512_permutexvar_epi16(x, bits);
#define PERMB(x) x = _mm512_permutexvar_epi8(x, bits);
#define PERMT2B(x) x = _mm512_maskz_permutex2var_epi8(0x5555555555555555ull, bits, x, one);
#define ZX(x) x = _mm512_cvtepu8_epi32(_mm512_castsi512_si128(x));
#define SRLD(x) x = _mm512_srli_epi32(x, 4);
#define SRLVD(x) x = _mm512_srlv_epi32(x, one);
#define TERN(x) x = _mm512_ternarylogic_epi32(x, bits, one, 0xEA);
  DSV4_PROBE_RUN("vpaddd", __m512i, one, ADD)
  DSV4_PROBE_RUN("vfmadd ps", __m512, f, FMA)
  DSV4_PROBE_RUN("vdpbf16ps (two FMA steps a lane)", __m512, f, DPBF16)
  DSV4_PROBE_RUN("vpermps (the FP4 lookup)", __m512, f, PERMPS)
  DSV4_PROBE_RUN("vpermw", __m512i, one, PERMW)
  DSV4_PROBE_RUN("vpermb", __m512i, one, PERMB)
  DSV4_PROBE_RUN("vpermt2b, zero-masked", __m512i, one, PERMT2B)
  DSV4_PROBE_RUN("vpmovzxbd (xmm to zmm)", __m512i, one, ZX)
  DSV4_PROBE_RUN("vpsrld", __m512i, one, SRLD)
  DSV4_PROBE_RUN("vpsrlvd", __m512i, one, SRLVD)
  DSV4_PROBE_RUN("vpternlogd", __m512i, one, TERN)
#undef ADD
#undef FMA
#undef DPBF16
#undef PERMPS
#undef PERMW
#undef PERMB
#undef PERMT2B
#undef ZX
#undef SRLD
#undef SRLVD
#undef TERN
}

// The FP4 tile-order FMA kernel itself (kernels::E2m1TileOrderRows, 4 weight rows x one
// activation row, as batch-1 decode calls it) on weights that stay in L1 / L2, in cycles
// per 16 weight bytes. Its loop needs 6 vector instructions per 16 bytes (vpmovzxbd,
// vpsrld, two vpermps, two FMAs) on the two vector ports: 3 cycles at best.
void ProbeFp4Kernel(double cycle) {
  std::printf("FP4 tile-order kernel (4 rows x K, one activation row; its loop's bound: 3 cycles / 16 B)\n");
  for (const int64_t K : {int64_t(4096), int64_t(65536)}) {
    std::vector<uint8_t> w(static_cast<size_t>(4 * K / 2)), scales(static_cast<size_t>(4 * K / 32));
    for (size_t i = 0; i < w.size(); ++i) w[i] = uint8_t(i * 37);
    for (size_t i = 0; i < scales.size(); ++i) scales[i] = uint8_t(120 + i % 6);  // 2^-7 .. 2^-2
    std::vector<float> x(static_cast<size_t>(K));
    for (int64_t i = 0; i < K; ++i) x[size_t(i)] = 1.0f / float(i + 1);
    const float* xp = x.data();
    const uint8_t* scale_rows[4];
    for (int s = 0; s < 4; ++s) scale_rows[s] = scales.data() + s * K / 32;
    float out[4];
    const long reps = 400000000L / K;
    double best = 1e30;
    for (int r = 0; r < 5; ++r) {
      const double t0 = Now();
      for (long i = 0; i < reps; ++i) {
        dsv4::kernels::E2m1TileOrderRows(&xp, 1, w.data(), K / 2, scale_rows, 4, K, out);
      }
      best = std::min(best, Now() - t0);
    }
    const double bytes = double(reps) * double(4 * K / 2);
    std::printf("  K = %-6lld (%3lld KiB of weights)           %5.2f cycles / 16 B, %5.1f GB/s\n", (long long)K,
                (long long)(2 * K / 1024), best / cycle / (bytes / 16), bytes / best / 1e9);
  }
}
#endif

}  // namespace

int main(int argc, char** argv) {
  const double gib = std::stod(Flag(argc, argv, "gib", "1"));
  ProbeMemory(size_t(gib * double(1ull << 30)) / 4096 * 4096);
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi") &&
      __builtin_cpu_supports("avx512bf16")) {
    const double cycle = SecondsPerCycle();
    ProbeInstructions(cycle);
    ProbeFp4Kernel(cycle);
  } else {
    std::printf("vector instructions: skipped (no AVX-512 BW/VBMI/BF16)\n");
  }
#endif
  return 0;
}
