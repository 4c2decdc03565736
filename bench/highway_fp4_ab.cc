// Highway (Debian libhwy-dev) against the hand-written AVX-512 intrinsics, measured on the
// kernel that takes most of a batch-1 decode step's vector work: the FP4 (e2m1, per-32
// ue8m0 scales) tile-order product of one activation row with four weight rows
// (kernels/tile_order.h; E2m1Tile<4, 1> in cpu/tile_order_avx512.cc). Issue 6 asks to
// choose the SIMD layer by measurement; bench/README.md ("Highway") has the outcome.
//   highway_fp4_ab [--rows 16384] [--cols 4096] [--pairs 30] [--copies 4]   (DSV4_THREADS=1: one thread)
// The Highway version below is the same algorithm written with Highway ops (dynamic
// dispatch: HWY_DYNAMIC_DISPATCH picks the best target this CPU has, as a Highway-based
// dsv4 would), checked bit for bit against kernels::E2m1TileOrderRows before timing (exit
// status 1 on any difference). Each pair times one pass over the weights with each kernel
// (A = intrinsics, B = Highway; B first in every other pair), over `copies` matrices in
// turn so the weights stream from memory as in decode (--copies 1 --rows 512: from L2).
// Two Highway variants are timed: "portable" masks the low nibble before the table
// lookup, as Highway's TableLookupLanes contract asks (indices below the lane count: on
// NEON the lookup reads whole index bytes); "x86" relies on vpermps reading only the low
// four index bits, as the intrinsics do.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "highway_fp4_ab.cc"
#include <hwy/foreach_target.h>  // re-includes this file once per target
#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <xmmintrin.h>

#include <cstdint>
#include <cstring>

#ifndef DSV4_HIGHWAY_FP4_AB_SHARED
#define DSV4_HIGHWAY_FP4_AB_SHARED
namespace dsv4::bench {
// The tile order's FTZ | DAZ for one call, as kernels::E2m1TileOrderRows sets it for its
// own (so both sides pay the same MXCSR reads and writes per call).
struct FlushDenormals {
  FlushDenormals() : saved(_mm_getcsr()) { _mm_setcsr(saved | 0x8040u); }
  ~FlushDenormals() { _mm_setcsr(saved); }
  unsigned saved;
};

// One FP4 tile-order product of x (one split activation row, n values) with 4 weight rows
// w + i * w_stride (e2m1 bytes; scale_rows[i]: their n / 32 ue8m0 scales); `tables`:
// 256 x 16 floats, the e2m1 values times each scale. Returns false where the target
// has no 16-lane float vectors (the tile order's step count).
using HwyFp4Fn = bool (*)(const float* x, const uint8_t* w, int64_t w_stride, const uint8_t* const* scale_rows,
                          int64_t n, const float (*tables)[16], float* out);
}  // namespace dsv4::bench
#endif

HWY_BEFORE_NAMESPACE();
namespace dsv4::bench::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The kE2m1TileBlock order of kernels/tile_order.h (V_p is scale block kBlock[p]).
constexpr int kBlock[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};

template <bool kMaskLow>
bool E2m1Tile4(const float* x, const uint8_t* w, int64_t w_stride, const uint8_t* const* scale_rows, int64_t n,
               const float (*tables)[16], float* out) {
#if HWY_MAX_BYTES < 64
  (void)x, (void)w, (void)w_stride, (void)scale_rows, (void)n, (void)tables, (void)out;
  return false;
#else
  const hn::ScalableTag<float> df;
  {
    if (hn::Lanes(df) != 16) return false;
    const hn::RebindToUnsigned<decltype(df)> du;
    const hn::Rebind<uint8_t, decltype(du)> d8;  // 16 bytes
    const hn::FixedTag<float, 4> d4;             // the four rows' step chains
    const hn::Repartition<double, decltype(df)> dd;
    using V = hn::Vec<decltype(df)>;
    constexpr int64_t kAhead = 4096 / 4;
    // Step l of the previous group's four sums: pending[l % 4][4 * (l / 4) ..].
    HWY_ALIGN float pending[4][16] = {};
    auto c = hn::Zero(d4);
    for (int64_t g = 0; g < n; g += 512) {
#pragma GCC unroll 4
      for (int s = 0; s < 4; ++s) {
#pragma GCC unroll 4
        for (int line = 0; line < 4; ++line) hwy::Prefetch(w + s * w_stride + g / 2 + kAhead + 64 * line);
      }
      V e[4], o[4];
#pragma GCC unroll 4
      for (int s = 0; s < 4; ++s) e[s] = o[s] = hn::Zero(df);
      // Unrolled as the intrinsics are (#pragma GCC unroll there too): constant offsets.
#pragma GCC unroll 16
      for (int p = 0; p < 16; ++p) {
        c = hn::Add(c, hn::Load(d4, &pending[p % 4][4 * (p / 4)]));
        const int block = kBlock[p];
        const V xe = hn::LoadU(df, x + g + 32 * p), xo = hn::LoadU(df, x + g + 32 * p + 16);
#pragma GCC unroll 4
        for (int s = 0; s < 4; ++s) {
          const auto b = hn::PromoteTo(du, hn::LoadU(d8, w + s * w_stride + g / 2 + 16 * block));
          const V scaled = hn::Load(df, tables[scale_rows[s][g / 32 + block]]);
          const auto lo = kMaskLow ? hn::And(b, hn::Set(du, 15)) : b;
          e[s] = hn::MulAdd(hn::TableLookupLanes(scaled, hn::IndicesFromVec(df, lo)), xe, e[s]);
          o[s] = hn::MulAdd(hn::TableLookupLanes(scaled, hn::IndicesFromVec(df, hn::ShiftRight<4>(b))), xo, o[s]);
        }
      }
      // The four sums transposed so that step l of the four rows is one 4-lane load
      // (InterleaveLower / Upper work within 128-bit blocks, as unpcklps / unpcklpd).
      V sum[4];
#pragma GCC unroll 4
      for (int s = 0; s < 4; ++s) sum[s] = hn::Add(e[s], o[s]);
      const V t0 = hn::InterleaveLower(df, sum[0], sum[1]), t1 = hn::InterleaveUpper(df, sum[0], sum[1]);
      const V t2 = hn::InterleaveLower(df, sum[2], sum[3]), t3 = hn::InterleaveUpper(df, sum[2], sum[3]);
      const auto d0 = hn::BitCast(dd, t0), d1 = hn::BitCast(dd, t1), d2 = hn::BitCast(dd, t2),
                 d3 = hn::BitCast(dd, t3);
      hn::Store(hn::BitCast(df, hn::InterleaveLower(dd, d0, d2)), df, pending[0]);
      hn::Store(hn::BitCast(df, hn::InterleaveUpper(dd, d0, d2)), df, pending[1]);
      hn::Store(hn::BitCast(df, hn::InterleaveLower(dd, d1, d3)), df, pending[2]);
      hn::Store(hn::BitCast(df, hn::InterleaveUpper(dd, d1, d3)), df, pending[3]);
    }
    for (int l = 0; l < 16; ++l) c = hn::Add(c, hn::Load(d4, &pending[l % 4][4 * (l / 4)]));
    hn::StoreU(c, d4, out);
    return true;
  }
#endif
}

int64_t Target() { return HWY_TARGET; }

bool E2m1Tile4Portable(const float* x, const uint8_t* w, int64_t w_stride, const uint8_t* const* scale_rows,
                       int64_t n, const float (*tables)[16], float* out) {
  FlushDenormals flush;
  return E2m1Tile4<true>(x, w, w_stride, scale_rows, n, tables, out);
}
bool E2m1Tile4X86(const float* x, const uint8_t* w, int64_t w_stride, const uint8_t* const* scale_rows, int64_t n,
                  const float (*tables)[16], float* out) {
  FlushDenormals flush;
  return E2m1Tile4<false>(x, w, w_stride, scale_rows, n, tables, out);
}

}  // namespace dsv4::bench::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/huge_page_buffer.h"
#include "core/thread_pool.h"
#include "kernels/linear_amx.h"
#include "kernels/tile_order.h"
#include "flags.h"
#include "paired_ab.h"

namespace dsv4::bench {
HWY_EXPORT(E2m1Tile4Portable);
HWY_EXPORT(E2m1Tile4X86);
HWY_EXPORT(Target);
namespace {

constexpr int kSkipped = 77;  // nothing to compare on this CPU (ctest's SKIP_RETURN_CODE)

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int Main(int argc, char** argv) {
  const int64_t rows = std::stoll(Flag(argc, argv, "rows", "16384"));
  const int64_t cols = std::stoll(Flag(argc, argv, "cols", "4096"));
  const int pairs = std::stoi(Flag(argc, argv, "pairs", "30"));
  const int copies = std::stoi(Flag(argc, argv, "copies", "4"));
  if (rows < 4 || rows % 4 != 0 || cols % 512 != 0 || copies < 1 || pairs < 0) {
    std::fprintf(stderr, "--rows must be a positive multiple of 4, --cols of 512, --copies at least 1, --pairs not negative\n");
    return 2;
  }
  if (!kernels::TileOrderActive()) {
    std::fprintf(stderr, "tile order is not active on this CPU (no AMX, or DSV4_TILE_ORDER=0): nothing to compare\n");
    return kSkipped;
  }
  std::printf("highway target: %s; FP4 [%lld, %lld] x %d, %zu threads\n", hwy::TargetName(HWY_DYNAMIC_DISPATCH(Target)()),
              static_cast<long long>(rows), static_cast<long long>(cols), copies, GlobalThreadPool().size());
  // Scaled tables as cpu/tile_order_avx512.cc builds them (under FTZ | DAZ).
  alignas(64) static float tables[256][16];
  {
    FlushDenormals flush;
    for (int e = 0; e < 256; ++e) {
      volatile float scale = Ue8m0ToFloat(uint8_t(e));
      for (int v = 0; v < 16; ++v) tables[e][v] = E2m1ToFloat(uint8_t(v)) * scale;
    }
  }
  // Random weights (bytes uniform, scales 2^-9..2^-4 as linear_ab's), one split activation
  // row of bf16-exact values.
  std::mt19937 rng(7);
  const int64_t row_bytes = cols / 2, scale_cols = cols / 32;
  std::vector<HugePageBuffer> weights;
  std::vector<std::vector<uint8_t>> scales(size_t(copies), std::vector<uint8_t>(size_t(rows * scale_cols)));
  for (int c = 0; c < copies; ++c) {
    weights.emplace_back(size_t(rows * row_bytes));
    uint8_t* w = weights.back().as<uint8_t>();
    for (int64_t i = 0; i < rows * row_bytes; ++i) w[i] = uint8_t(rng());
    for (auto& s : scales[size_t(c)]) s = uint8_t(118 + rng() % 6);
  }
  std::vector<float> x(static_cast<size_t>(cols));
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : x) v = RoundBf16(dist(rng));
  const float* xp = x.data();

  // Pointers into the dispatch table taken after a first dispatched call (above) chose the
  // target, so timed calls go straight to that target's functions.
  const HwyFp4Fn portable = &HWY_DYNAMIC_DISPATCH(E2m1Tile4Portable), x86 = &HWY_DYNAMIC_DISPATCH(E2m1Tile4X86);
  // One pass over copy c's rows with `kernel` (nullptr: the intrinsics), rows split among
  // the pool's threads in blocks of four.
  auto pass = [&](int c, HwyFp4Fn kernel, float* out) {
    const uint8_t* w = weights[size_t(c)].as<uint8_t>();
    const uint8_t* s = scales[size_t(c)].data();
    ParallelFor(size_t(rows / 4), 64, [&](size_t b, size_t e) {
      for (size_t q = b; q < e; ++q) {
        const int64_t r = int64_t(q) * 4;
        const uint8_t* scale_rows[4];
        for (int i = 0; i < 4; ++i) scale_rows[i] = s + (r + i) * scale_cols;
        if (kernel == nullptr) {
          kernels::E2m1TileOrderRows(&xp, 1, w + r * row_bytes, row_bytes, scale_rows, 4, cols, out + r);
        } else if (!kernel(xp, w + r * row_bytes, row_bytes, scale_rows, cols, tables, out + r)) {
          std::fprintf(stderr, "the dispatched Highway target has no 16-lane float vectors\n");
          std::exit(kSkipped);
        }
      }
    });
  };
  std::vector<float> ref(static_cast<size_t>(rows)), got(static_cast<size_t>(rows));
  for (int c = 0; c < copies; ++c) {
    pass(c, nullptr, ref.data());
    for (HwyFp4Fn kernel : {portable, x86}) {
      pass(c, kernel, got.data());
      if (std::memcmp(ref.data(), got.data(), ref.size() * sizeof(float)) != 0) {
        int64_t bad = 0;
        for (size_t i = 0; i < ref.size(); ++i) bad += std::memcmp(&ref[i], &got[i], sizeof(float)) != 0;
        std::fprintf(stderr, "Highway (%s) differs from the intrinsics in %lld of %lld outputs\n",
                     kernel == portable ? "portable" : "x86", static_cast<long long>(bad),
                     static_cast<long long>(rows));
        return 1;
      }
    }
  }
  std::printf("bits: both Highway variants equal the intrinsics on all %lld x %d outputs\n",
              static_cast<long long>(rows), copies);
  if (pairs == 0) return 0;  // (the bits only: ctest highway_fp4_bits)
  const double gb = double(rows * (row_bytes + scale_cols)) / 1e9;
  for (HwyFp4Fn kernel : {portable, x86}) {
    PairedAb ab;
    int c = 0;
    for (int i = 0; i < pairs; ++i) {
      ab.RunPair([&] {
        c = (c + 1) % copies;
        const auto t0 = std::chrono::steady_clock::now();
        pass(c, ExperimentSwitch().load() ? kernel : nullptr, got.data());
        return Seconds(t0);
      });
    }
    std::printf("%s: %s; GB/s A %.1f, B %.1f\n", kernel == portable ? "portable" : "x86     ",
                ab.Summary(1e3, "ms").c_str(), gb / ab.A(0.5), gb / ab.B(0.5));
  }
  return 0;
}

}  // namespace
}  // namespace dsv4::bench

int main(int argc, char** argv) { return dsv4::bench::Main(argc, argv); }
#endif  // HWY_ONCE
