#include "kernels/linear.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "kernels/act_quant.h"
#include "kernels/bf16_row_blocks.h"
#include "kernels/dot.h"
#include "kernels/gemv.h"
#include "kernels/linear_amx.h"
#include "kernels/precision.h"
#include "kernels/tile_order.h"
#include "kernels/weight_streams.h"

namespace dsv4::kernels {
namespace {

constexpr int64_t kBlock = 128;   // FP8 weight block and activation block
constexpr int64_t kFp4Block = 32;  // FP4 weight scale block

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// fn(t0, rows) over T activation rows in CeilDiv(T, max_rows) passes as even as they come
// (16 rows by 8: 8 + 8; 4 by 3: 2 + 2; 7 by 3: 3 + 2 + 2).
template <typename Fn>
void ForEachEvenPass(int64_t T, int64_t max_rows, Fn&& fn) {
  const int64_t passes = CeilDiv(T, max_rows);
  for (int64_t p = 0, t0 = 0; p < passes; ++p) {
    const int64_t rows = (T - t0 + passes - p - 1) / (passes - p);
    fn(t0, rows);
    t0 += rows;
  }
}

// Activations prepared for a quantised GEMM: per row, K values and K/128 scales.
struct PreparedActs {
  std::vector<float> q;  // [T, K]
  std::vector<float> s;  // [T, K/128]
};

// Per-thread buffers reused by every call (Linear runs on the engine thread; vectors
// keep their capacity, so the steady state allocates nothing).
struct Scratch {
  PreparedActs acts;
  PackedRows packed;  // [T, K] bf16 activations in the packed layout
  SplitRows split;    // [T, K] the same as fp32 for the FMA kernels (SplitForFma)
};
Scratch& LocalScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// x row t at x + t * x_stride. With `dequantize`, q holds q · s_a (exact: s_a is a power
// of two), the fast paths' activations. Rows split over the pool (serial, the engine
// thread's copy, quantisation and scaling of a 512-row prefill chunk were ~4% of it).
PreparedActs& PrepareActs(const float* x, int64_t x_stride, int64_t T, int64_t K, bool act_quant,
                          bool dequantize) {
  PreparedActs& p = LocalScratch().acts;
  const int64_t nb = CeilDiv(K, kBlock);
  if (act_quant) DSV4_CHECK(K % kBlock == 0);
  p.q.resize(size_t(T * K));
  p.s.resize(size_t(T * nb));
  // (32 rows a chunk at least: a batched decode step's few rows stay on the calling thread.)
  ParallelFor(size_t(T), 32, [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      const float* xt = x + t * size_t(x_stride);
      float* q = &p.q[t * size_t(K)];
      float* sc = &p.s[t * size_t(nb)];
      if (!act_quant) {
        std::copy(xt, xt + K, q);
        std::fill(sc, sc + nb, 1.0f);
        continue;
      }
      QuantizeActFp8(xt, K, q, sc);
      if (!dequantize) continue;
      for (int64_t b = 0; b < nb; ++b) {  // one scale per block: a loop the compiler vectorises
        const float scale = sc[b];
        for (int64_t k = b * kBlock; k < (b + 1) * kBlock; ++k) q[k] *= scale;
      }
    }
  });
  return p;
}

// Token rows per tile: a tile of packed activations (64 x K bf16, 512 KiB at K = 4096)
// stays in L2 while a thread walks its weight rows, so each weight row is read once per
// tile and decoded once per kPackedRowsMax tokens.
constexpr int64_t kTokenTile = 64;

// Most tokens an FP4 product takes on the weight-stream kernels (in passes of
// kWeightRowsMax over each thread's rows) instead of the GEMM panels: a prefill chunk's
// experts see ~12 tokens each. linear_bench FP4 [2048, 4096] x16, 2 threads, GFLOP/s,
// panels -> streams: T=6 163-166 -> 303-308, T=8 200-203 -> 342-347, T=12 243-255 ->
// 339-348, T=16 258-266 -> 281-362, T=32 281-289 -> 311-371, T=48-64 about equal.
constexpr int64_t kStreamTokensMaxFp4 = 32;

// FP8/FP4 weight rows decoded per panel when T > 1: a batch decodes each row once (into
// bf16 with its scales folded in) and runs the bf16 tile kernel on it for every token
// tile; beyond one tile the panel holds ~128 KiB of rows so the tiles reuse it from L2.
constexpr int64_t kMaxPanelRows = 48;
int64_t PanelRows(int64_t T, int64_t K) {
  if (T <= kTokenTile) return kPackedWeightRowsMax;
  const int64_t rows = (int64_t(64) << 10) / K / kPackedWeightRowsMax * kPackedWeightRowsMax;
  return std::clamp<int64_t>(rows, kPackedWeightRowsMax, kMaxPanelRows);
}

// Ue8m0ToFloat over a row of scale bytes: the kernel set's SIMD version where it has one
// (this scalar loop cost 40% as much as the FP4 panel tiles it feeds — 1 thread, [2048,
// 4096] FP4 at T = 12: LinearPacked's own samples 3.4% vs the tiles' 8.5%).
void Ue8m0RowToFloat(const DotKernels& dk, const uint8_t* s, int64_t n, float* out) {
  if (dk.ue8m0_to_float != nullptr) return dk.ue8m0_to_float(s, n, out);
  for (int64_t i = 0; i < n; ++i) out[i] = Ue8m0ToFloat(s[i]);
}

// The packed-activation layout for weights of `dtype` with K columns; false where the
// ISA's packed kernels do not take that format or shape.
bool PackedFormatFor(DType dtype, int64_t K, const DotKernels& dk, PackedFormat* format) {
  if (dk.pack_bf16_acts == nullptr) return false;
  switch (dtype) {
    case DType::kBF16:
      *format = PackedFormat::kBf16;
      return K % 32 == 0;
    case DType::kF8E4M3:
      *format = PackedFormat::kE4m3;
      return K % kBlock == 0;
    case DType::kI8:
      // Tile order (tile_order.h) packs FP4 products' activations in its own block order.
      *format = TileOrderActive() && K % kTileOrderGroup == 0 ? PackedFormat::kE2m1Tile : PackedFormat::kE2m1;
      return K % 128 == 0 && K / kFp4Block <= 512;
    default:
      return false;
  }
}

// a (T x K fp32) packed as bf16 in `format`'s order; false (the packed words unusable)
// unless every value is bf16-exact (the packer checks as it packs).
bool PackRows(const float* a, int64_t T, int64_t K, PackedFormat format, const DotKernels& dk,
              PackedRows* packed) {
  packed->resize(size_t(T * K));
  std::atomic<bool> exact{true};
  ParallelFor(size_t(T), 4, [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      if (!dk.pack_bf16_acts(a + t * size_t(K), K, format, &(*packed)[t * size_t(K)])) {
        exact.store(false, std::memory_order_relaxed);
      }
    }
  });
  return exact.load();
}

void LinearOnPacked(const PackedRows& packed, const SplitRows& split, int64_t T,
                    PackedFormat format, const WeightMatrix& w, int64_t row_begin, int64_t N, float* y, int64_t ldy,
                    bool round_bf16, const DotKernels& dk);

// Whether FP8/FP4 products in `format` with K columns run in tile order (tile_order.h):
// on AMX tiles from kTileOrderAmxMinTokens rows, on its FMA kernels below, the same bits either way.
bool UsesTileOrder(PackedFormat format, int64_t K) {
  return format == PackedFormat::kE2m1Tile ||
         (format == PackedFormat::kE4m3 && K % kTileOrderGroup == 0 && TileOrderActive());
}

// Whether a product of T rows in `format` with K columns runs on AMX tiles in the
// batch-dependent mode: batch invariance off (kernels/precision.h), FP8/FP4 outside tile
// order, kAmxMinTokens rows or more.
bool TakesAmx(int64_t T, PackedFormat format, int64_t K) {
  return !BatchInvariant() && T >= kAmxMinTokens && (format == PackedFormat::kE4m3 || format == PackedFormat::kE2m1) &&
         K % kBlock == 0 && !UsesTileOrder(format, K) && AmxActive();
}

// Fewest rows a tile-order product takes to the AMX tiles (fewer: the FMA kernels, the
// same bits either way). With the tiles' small-batch path (linear_amx.cc: steps decoded a
// group ahead of their products), linear_bench, 2 threads, min / median of 3 interleaved,
// ms, FMA kernels vs tiles: FP4 [2048, 4096] x16 T=2 4.99 / 5.07 vs 7.02 / 12.4, T=3
// 13.8 / 14.1 vs 7.57 / 8.87 (three rows leave the FMA kernels two weight streams); FP8
// [4096, 4096] x8 T=2 7.07 / 8.00 vs 11.1 / 11.7, T=3 11.7 / 12.6 vs 10.8 / 12.3, and one
// thread, [4096, 4096], T=4 3.44 / 3.72 vs 2.24 / 2.78.
constexpr int64_t kTileOrderAmxMinTokens = 3;

// Packed rows split for the tile-order FMA kernels (SplitTileOrderActs), row by row.
void SplitTileOrderRows(const uint16_t* packed, int64_t T, int64_t K, SplitRows* split) {
  split->resize(size_t(T * K));
  for (int64_t t = 0; t < T; ++t) SplitTileOrderActs(packed + t * K, K, split->data() + t * K);
}

// FP4 products of up to kStreamTokensMaxFp4 rows on fp32 FMAs where the kernel set
// prefers them (dot.h e2m1_weight_rows_fma): the packed rows split into fp32 once for all
// the products that use them. `split` is left empty where they do not apply (another
// format, more rows, products on AMX, another set, an activation below the FMA kernel's
// range).
void SplitForFma(const PackedRows& packed, int64_t T, int64_t K, PackedFormat format,
                 const DotKernels& dk, SplitRows* split) {
  split->clear();
  if (UsesTileOrder(format, K)) {  // the tile-order FMA kernels take products below AMX's
    if (T < kTileOrderAmxMinTokens) SplitTileOrderRows(packed.data(), T, K, split);
    return;
  }
  if (format != PackedFormat::kE2m1 || T > kStreamTokensMaxFp4 || dk.e2m1_weight_rows_fma == nullptr ||
      !dk.e2m1_fma_preferred || TakesAmx(T, format, K)) {
    return;
  }
  split->resize(size_t(T * K));
  bool ok = true;
  for (int64_t t = 0; t < T; ++t) ok = dk.split_e2m1_acts(&packed[size_t(t * K)], K, &(*split)[size_t(t * K)]) && ok;
  if (!ok) split->clear();
}

// Fast mode on the ISA's packed-activation kernels: a (T x K fp32, bf16-exact) are
// packed once per call; returns false (nothing done) where the kernels or the shapes do
// not allow it. Every output's arithmetic is that of the one-row kernels (dot.h), so
// results do not depend on T or on the thread split.
bool LinearPacked(const float* a, int64_t T, const WeightMatrix& w, int64_t row_begin, int64_t N,
                  float* y, int64_t ldy, bool round_bf16, const DotKernels& dk) {
  PackedFormat format;
  PackedRows& packed = LocalScratch().packed;
  SplitRows& split = LocalScratch().split;
  if (!PackedFormatFor(w.dtype, w.cols, dk, &format) || !PackRows(a, T, w.cols, format, dk, &packed)) return false;
  SplitForFma(packed, T, w.cols, format, dk, &split);
  LinearOnPacked(packed, split, T, format, w, row_begin, N, y, ldy, round_bf16, dk);
  return true;
}

// Rows [row_begin, row_begin + N) of bf16 weights in 16-row blocks (bf16_row_blocks.h)
// times T packed activation rows. Decode walks four blocks far apart per thread (as the
// row-major GEMV its rows); batches take tiles of up to 3 blocks x 8 activation rows, so
// each weight vector is loaded once per 8 rows. The blocks at the range's ends are
// computed whole and only the range's rows kept.
void LinearOnRowBlocks(const PackedRows& packed, int64_t T, const WeightMatrix& w, int64_t row_begin,
                       int64_t N, float* y, int64_t ldy, bool round_bf16, Bf16BlocksFn blocks_fn) {
  const int64_t K = w.cols, B = kRowBlockRows;
  const int64_t b_begin = row_begin / B, b_end = CeilDiv(row_begin + N, B);
  auto store = [&](const float* out, int64_t b, int nb, int64_t t0, int rows) {
    StoreRowBlockOutputs(out, b, nb, t0, rows, row_begin, N, y, ldy, round_bf16);
  };
  if (T == 1) {
    const uint16_t* x0 = packed.data();
    // ~16 chunks per thread, as the row-major GEMV (a slowed thread leaves a short tail).
    constexpr size_t kChunksPerThread = 16;
    const size_t blocks = size_t(b_end - b_begin);
    ParallelFor(blocks, 1, [&](size_t c0, size_t c1) {
      constexpr int kStreams = 4;
      float out[kStreams * kRowBlockRows];
      ForEachStreamGroup(int64_t(c1 - c0), kStreams, [&](int64_t offset, int64_t stride, int count) {
        const int64_t b = b_begin + int64_t(c0) + offset;
        blocks_fn(&x0, 1, w.row_blocks + b * B * K, stride * B * K, count, K, out);
        for (int i = 0; i < count; ++i) store(out + i * B, b + i * stride, 1, 0, 1);
      });
    }, std::max<size_t>(4, blocks / (GlobalThreadPool().size() * kChunksPerThread)));
    return;
  }
  constexpr int kTileBlocks = 3;
  const int64_t groups = CeilDiv(b_end - b_begin, kTileBlocks);
  ParallelFor(size_t(groups), 1, [&](size_t g0, size_t g1) {
    const uint16_t* rows_x[kPackedRowsMax];
    float out[kPackedRowsMax * kTileBlocks * kRowBlockRows];
    for (int64_t g = int64_t(g0); g < int64_t(g1); ++g) {
      const int64_t b = b_begin + g * kTileBlocks;
      const int nb = int(std::min<int64_t>(kTileBlocks, b_end - b));
      // Activation rows in passes of at most 8 (16 = 8 + 8); a group's blocks (384 KiB at
      // K = 4096) stay in L2 for the later passes.
      ForEachEvenPass(T, kPackedRowsMax, [&](int64_t t0, int64_t rows) {
        for (int64_t r = 0; r < rows; ++r) rows_x[r] = &packed[size_t((t0 + r) * K)];
        blocks_fn(rows_x, int(rows), w.row_blocks + b * B * K, B * K, nb, K, out);
        store(out, b, nb, t0, int(rows));
      });
    }
  });
}

// Rows [row_begin, row_begin + N) of FP8/FP4 weights (w.dtype) times T activation rows
// on a weight-stream kernel: activation rows in passes of at most pass_max, as even as
// they come; each thread's rows in groups far apart (weight_streams.h), as many as
// max_products / (the pass's rows) allows, at most kWeightRowsMax. kernel(t0, rows, w_rows,
// w_stride, scale_rows, wrows, out) computes activation rows t0..t0 + rows - 1 against
// weight rows w_rows + i * w_stride (bytes), i < wrows, with their scale rows, into
// out[i * rows + r].
template <typename Kernel>
void WeightStreams(int64_t T, int64_t pass_max, int max_products, const WeightMatrix& w, int64_t row_begin,
                   int64_t N, float* y, int64_t ldy, bool round_bf16, Kernel&& kernel) {
  const int64_t K = w.cols;
  const bool fp4 = w.dtype == DType::kI8;
  const int64_t row_bytes = fp4 ? K / 2 : K, nb = CeilDiv(K, kBlock), fp4_scales = K / kFp4Block;
  ParallelFor(size_t(N), 8, [&](size_t n0, size_t n1) {
    constexpr int kStreams = kWeightRowsMax;
    ForEachEvenPass(T, pass_max, [&](int64_t t0, int64_t rows) {
      const int streams = std::clamp(max_products / int(rows), 1, kStreams);
      auto group = [&](int64_t offset, int64_t stride_rows, int wrows) {
        const int64_t first = int64_t(n0) + offset;
        float out[kStreams * kWeightRowsMax];
        const uint8_t* scale_rows[kStreams];
        for (int i = 0; i < wrows; ++i) {
          const int64_t r = row_begin + first + i * stride_rows;
          scale_rows[i] = fp4 ? w.scale + r * fp4_scales : w.scale + (r / kBlock) * nb;
        }
        kernel(t0, int(rows), w.data + (row_begin + first) * row_bytes, stride_rows * row_bytes, scale_rows, wrows, out);
        for (int i = 0; i < wrows; ++i) {
          for (int64_t t = 0; t < rows; ++t) {
            const float v = out[i * rows + t];
            y[(t0 + t) * ldy + first + i * stride_rows] = round_bf16 ? RoundBf16(v) : v;
          }
        }
      };
      // FP8 streams stay within one 128-row block, so their rows share scales and the FMA
      // kernels fold those into the decode tables (E4m3Tile: 4 fewer multiplies per 64
      // codes; fp8_4096x4096 T1, 5 interleaved rounds, min / median 1.03 / 1.11 -> 0.80 /
      // 0.94 ms). FP4 rows have scales of their own: streams far apart across the range.
      if (fp4) {
        ForEachStreamGroup(int64_t(n1 - n0), streams, group);
      } else {
        ForEachStreamGroupInBlocks(row_begin + int64_t(n0), int64_t(n1 - n0), kBlock, streams, group);
      }
    });
  });
}

// Tile-order products (tile_order.h) on its FMA kernels, from split activation rows:
// passes of up to 4 rows, with as many weight streams as keep 8 accumulator pairs (16
// registers) in flight: 4 streams up to 2 rows, then 2.
void TileOrderStreams(const SplitRows& split, int64_t T, const WeightMatrix& w, int64_t row_begin,
                      int64_t N, float* y, int64_t ldy, bool round_bf16) {
  const int64_t K = w.cols;
  const float* xf[kAmxMinTokens];
  auto kernel_fn = w.dtype == DType::kI8 ? E2m1TileOrderRows : E4m3TileOrderRows;
  for (int64_t t0 = 0; t0 < T; t0 += kAmxMinTokens) {  // (more rows: the unfolded rows of a batch)
    const int64_t rows = std::min<int64_t>(kAmxMinTokens, T - t0);
    for (int64_t t = 0; t < rows; ++t) xf[t] = &split[size_t((t0 + t) * K)];
    WeightStreams(rows, kWeightRowsMax, 8, w, row_begin, N, y + t0 * ldy, ldy, round_bf16,
                  [&](int64_t p0, int prows, const uint8_t* w_rows, int64_t w_stride, const uint8_t* const* scale_rows,
                      int wrows, float* out) {
                    kernel_fn(xf + p0, prows, w_rows, w_stride, scale_rows, wrows, K, out);
                  });
  }
}

// Tile-order products: from kTileOrderAmxMinTokens rows on AMX tiles, the rows whose scales
// do not fold (and smaller batches) on the FMA kernels; `split` holds the split rows of
// the smaller batches (SplitForFma).
void LinearTileOrder(const PackedRows& packed, const SplitRows& split, int64_t T,
                     PackedFormat format, const WeightMatrix& w, int64_t row_begin, int64_t N, float* y, int64_t ldy,
                     bool round_bf16) {
  if (T < kTileOrderAmxMinTokens) {
    DSV4_CHECK(split.size() == size_t(T * w.cols));
    return TileOrderStreams(split, T, w, row_begin, N, y, ldy, round_bf16);
  }
  std::vector<int64_t> unfolded;
  LinearAmx(packed.data(), T, format, w, row_begin, N, y, ldy, round_bf16, /*tile_order=*/true, &unfolded);
  if (unfolded.empty()) return;
  thread_local SplitRows own_split;  // kept per thread: no allocation per call
  SplitTileOrderRows(packed.data(), T, w.cols, &own_split);
  for (int64_t r : unfolded) TileOrderStreams(own_split, T, w, r, 1, y + (r - row_begin), ldy, round_bf16);
}

void LinearOnPackedSimd(const PackedRows& packed, const SplitRows& split, int64_t T,
                        PackedFormat format, const WeightMatrix& w, int64_t row_begin, int64_t N, float* y, int64_t ldy,
                        bool round_bf16, const DotKernels& dk);

// The products of LinearPacked on activations already packed in `format`'s order (and,
// where not empty, split for the FMA kernels: SplitForFma).
void LinearOnPacked(const PackedRows& packed, const SplitRows& split, int64_t T,
                    PackedFormat format, const WeightMatrix& w, int64_t row_begin, int64_t N, float* y, int64_t ldy,
                    bool round_bf16, const DotKernels& dk) {
  if (UsesTileOrder(format, w.cols)) return LinearTileOrder(packed, split, T, format, w, row_begin, N, y, ldy, round_bf16);
  if (TakesAmx(T, format, w.cols)) {
    // FP8/FP4 on AMX tiles; the rows whose scales do not fold into bf16 exponents take the
    // SIMD kernels, one row each (on vdpbf16ps: the FMA kernel's bits, no split needed).
    std::vector<int64_t> unfolded;
    LinearAmx(packed.data(), T, format, w, row_begin, N, y, ldy, round_bf16, /*tile_order=*/false, &unfolded);
    for (int64_t r : unfolded) {
      LinearOnPackedSimd(packed, split, T, format, w, r, 1, y + (r - row_begin), ldy, round_bf16, dk);
    }
    return;
  }
  LinearOnPackedSimd(packed, split, T, format, w, row_begin, N, y, ldy, round_bf16, dk);
}

// LinearOnPacked on the SIMD kernels (dot.h): the arithmetic of every batch size.
void LinearOnPackedSimd(const PackedRows& packed, const SplitRows& split, int64_t T,
                        PackedFormat format, const WeightMatrix& w, int64_t row_begin, int64_t N, float* y, int64_t ldy,
                        bool round_bf16, const DotKernels& dk) {
  const int64_t K = w.cols;
  const int64_t nb = CeilDiv(K, kBlock);
  if (format == PackedFormat::kBf16 && w.row_blocks != nullptr) {
    // On AMX tiles where the CPU has them, for every T (one arithmetic per row whatever
    // the batch; kernels/linear_amx.h).
    if (AmxActive()) return LinearRowBlocksAmx(packed.data(), T, w, row_begin, N, y, ldy, round_bf16);
    const Bf16BlocksFn blocks_fn = ActiveBf16Blocks();
    DSV4_CHECK(blocks_fn != nullptr);  // blocked copies exist only where the kernel does
    return LinearOnRowBlocks(packed, T, w, row_begin, N, y, ldy, round_bf16, blocks_fn);
  }
  const Bf16GemvFn gemv = ActiveBf16Gemv();
  if (T == 1 && format == PackedFormat::kBf16 && gemv != nullptr) {
    // Decode: four weight streams far apart per thread (kernels/gemv.h), same arithmetic.
    // ~16 chunks per thread (the head: 32 MiB each) rather than the pool's 4 (126 MiB): a
    // thread slowed by the VM's neighbours leaves a shorter tail (decode_profile, 3
    // interleaved runs: head alone 53.2-54.3 -> 55.6-58.4 GB/s, step mean 44.2-46.9 ->
    // 42.0-45.4 ms).
    constexpr size_t kChunksPerThread = 16;
    ParallelFor(size_t(N), 8, [&](size_t n0, size_t n1) {
      float* out = y + n0;
      gemv(packed.data(), reinterpret_cast<const uint16_t*>(w.data) + (row_begin + int64_t(n0)) * K, K,
           int64_t(n1 - n0), out);
      if (round_bf16) {
        for (size_t i = 0; i < n1 - n0; ++i) out[i] = RoundBf16(out[i]);
      }
    }, std::max<size_t>(8, size_t(N) / (GlobalThreadPool().size() * kChunksPerThread)));
    return;
  }
  const bool has_weight_rows = format == PackedFormat::kE4m3   ? dk.e4m3_weight_rows != nullptr
                               : format == PackedFormat::kE2m1 ? dk.e2m1_weight_rows != nullptr
                                                                : false;
  // FP4 up to kStreamTokensMaxFp4 tokens, in passes over each thread's rows (decoded again
  // per pass, the rows then in L2); FP8 only up to kWeightRowsMax (its
  // decode costs more per value: T = 4 154, panels at T = 6 142, T = 8 182-187 GFLOP/s,
  // FP8 [4096, 4096] x8).
  const int64_t stream_tokens_max = format == PackedFormat::kE2m1 ? kStreamTokensMaxFp4 : kWeightRowsMax;
  if (T <= stream_tokens_max && has_weight_rows) {
    // Decode (and experts with a few tokens): four weight streams far apart in a thread's
    // range (weight_streams.h), each weight vector decoded once for up to kWeightRowsMax
    // activation rows (dot.h e4m3_weight_rows / e2m1_weight_rows).
    const uint16_t* xs[kStreamTokensMaxFp4];
    const float* xf[kStreamTokensMaxFp4];
    const bool fma = !split.empty();
    for (int64_t t = 0; t < T; ++t) {
      xs[t] = &packed[size_t(t * K)];
      if (fma) xf[t] = &split[size_t(t * K)];
    }
    // FP4 in passes of at most 3 activation rows, as even as they come (4 = 2 + 2): with
    // 4 rows the e2m1 kernel's 16 accumulators and the step's 16 activation vectors do not
    // fit the registers, and from memory it ran at 8-9 GB/s against 14-17 for 3 rows and
    // 21-27 for 2 (one thread, 4 streams; /tmp/kb/fp4u.cc, fp4w.cc, fp4x.cc).
    const int64_t pass_max = format == PackedFormat::kE2m1 ? 3 : kWeightRowsMax;
    WeightStreams(T, pass_max, kWeightRowsMax * kWeightRowsMax, w, row_begin, N, y, ldy, round_bf16,
                  [&](int64_t t0, int rows, const uint8_t* w_rows, int64_t w_stride, const uint8_t* const* scale_rows,
                      int wrows, float* out) {
                    if (format == PackedFormat::kE4m3) {
                      dk.e4m3_weight_rows(xs + t0, rows, w_rows, w_stride, scale_rows, wrows, K, out);
                    } else if (fma) {
                      dk.e2m1_weight_rows_fma(xf + t0, rows, w_rows, w_stride, scale_rows, wrows, K, out);
                    } else {
                      dk.e2m1_weight_rows(xs + t0, rows, w_rows, w_stride, scale_rows, wrows, K, out);
                    }
                  });
    return;
  }
  const bool bf16 = format == PackedFormat::kBf16;
  // (Where the weight-stream kernels above do not apply: FP8 at 5 tokens, FP4 beyond
  // kStreamTokensMaxFp4, kernel sets without them.) Up to kPanelMinRows - 1 activation
  // rows the rows kernels decode each weight vector once for all of them in registers;
  // from 6 rows the panels win: the rows kernels re-read every
  // activation row from L2 for each weight row (1 thread, GFLOP/s, rows -> panels, FP4
  // [2048, 4096]: T=3 110 -> 50, T=5 70-102 -> 84-86, T=6 73-82 -> 94-105, T=7 75-80 ->
  // 93, T=8 74-81 -> 122-136; FP8 [4096, 4096]: T=5 54-74 -> 62-64, T=6 62 -> 70-84, T=8
  // 70-82 -> 113-114). Both give the same bits.
  constexpr int64_t kPanelMinRows = 6;
  const bool panels = !bf16 && T >= kPanelMinRows && dk.panel_tile != nullptr;
  // bf16 weights are used in place: one group of all the thread's rows, token tiles
  // outside, so a tile's activations stay in L2 while the weights stream past.
  const int64_t panel_rows = bf16 ? N : panels ? PanelRows(T, K) : 1;
  const int64_t n_scales = format == PackedFormat::kE2m1 ? K / kFp4Block : nb;
  ParallelFor(size_t(N), 8, [&](size_t n0, size_t n1) {
    thread_local AlignedVector<uint16_t> panel;
    thread_local std::vector<float> panel_scales;
    if (panels && panel.size() < size_t(panel_rows * K)) panel.resize(size_t(panel_rows * K));
    if (panels && panel_scales.size() < size_t(panel_rows * n_scales)) panel_scales.resize(size_t(panel_rows * n_scales));
    const float* scale_rows[kMaxPanelRows];
    const uint16_t* xs[kPackedRowsMax];
    float out[kPackedRowsMax * kPackedWeightRowsMax];
    for (int64_t g = int64_t(n0); g < int64_t(n1); g += panel_rows) {
      const int64_t g_rows = std::min<int64_t>(panel_rows, int64_t(n1) - g);
      for (int64_t j = 0; panels && j < g_rows; ++j) {
        const int64_t r = row_begin + g + j;
        float* sc = &panel_scales[size_t(j * n_scales)];
        const uint8_t* sb = format == PackedFormat::kE4m3 ? w.scale + (r / kBlock) * nb : w.scale + r * n_scales;
        if (format == PackedFormat::kE4m3 && j > 0 && (r - 1) / kBlock == r / kBlock) {
          scale_rows[j] = scale_rows[j - 1];  // the same 128-row block: the same scales
        } else {
          Ue8m0RowToFloat(dk, sb, n_scales, sc);
          scale_rows[j] = sc;
        }
        if (format == PackedFormat::kE4m3) {
          dk.decode_e4m3_row(w.data + r * K, K, &panel[size_t(j * K)]);
        } else {
          dk.decode_e2m1_row(w.data + r * (K / 2), K, &panel[size_t(j * K)]);
        }
      }
      // The next panel's weights (and FP4 scales), fetched while this panel's tiles
      // compute (a line per tile step): a decode pass that waited on memory for every
      // line took longer than the tiles.
      const int64_t next_rows = std::min<int64_t>(panel_rows, int64_t(n1) - g - g_rows);
      const uint8_t* prefetch = nullptr;
      const uint8_t* prefetch_end = nullptr;
      if (panels && next_rows > 0) {
        const int64_t r = row_begin + g + g_rows, row_bytes = format == PackedFormat::kE4m3 ? K : K / 2;
        prefetch = w.data + r * row_bytes;
        prefetch_end = prefetch + next_rows * row_bytes;
        if (format == PackedFormat::kE2m1) {
          for (int64_t off = 0; off < next_rows * n_scales; off += 64) __builtin_prefetch(w.scale + r * n_scales + off, 0, 2);
        }
      }
      for (int64_t tile = 0; tile < T; tile += kTokenTile) {
        const int64_t tile_end = std::min(T, tile + kTokenTile);
        // Up to kPackedWeightRowsMax weight rows at a time (one activation load for all).
        const int64_t wstep = panels || bf16 ? kPackedWeightRowsMax : 1;
        for (int64_t j = 0; j < g_rows; j += wstep) {
          const int64_t n = g + j, r = row_begin + n;
          const int wrows = int(std::min<int64_t>(wstep, g_rows - j));
          // bf16: activation rows 4 at a time, so each group's 6 weight rows are one 6 x 4
          // tile (weights loaded once per 4 rows) rather than two 3 x 8 tiles; the 3 x 8
          // tiles left the weight stream waiting on memory (1 thread, bf16 [32768, 4096]
          // CPU ms, 3 x 8 vs 6 x 4: T = 8 21.0-25.4 vs 16.4-16.8, T = 16 32.2-35.4 vs
          // 23.8-24.5; the batch-16 head was a third of the step).
          const int64_t row_step = bf16 ? 4 : kPackedRowsMax;
          for (int64_t t0 = tile; t0 < tile_end; t0 += row_step) {
            const int rows = int(std::min<int64_t>(row_step, tile_end - t0));
            for (int i = 0; i < rows; ++i) xs[i] = &packed[size_t((t0 + i) * K)];
            if (bf16) {
              dk.bf16_rows_packed(xs, rows, reinterpret_cast<const uint16_t*>(w.data) + r * K, K, wrows, K, out);
            } else if (panels) {
              dk.panel_tile(format, xs, rows, &panel[size_t(j * K)], K, wrows, scale_rows + j, K, out,
                            &prefetch, prefetch_end);
            } else if (format == PackedFormat::kE4m3) {
              dk.e4m3_rows_packed(xs, rows, w.data + r * K, w.scale + (r / kBlock) * nb, K, out);
            } else {
              dk.e2m1_rows_packed(xs, rows, w.data + r * (K / 2), w.scale + r * n_scales, K, out);
            }
            for (int jj = 0; jj < wrows; ++jj) {
              for (int i = 0; i < rows; ++i) {
                const float v = out[jj * rows + i];
                y[(t0 + i) * ldy + n + jj] = round_bf16 ? RoundBf16(v) : v;
              }
            }
          }
        }
      }
    }
  });
}

// Without activation quantisation the reference multiplies by the dequantised weight
// matrix in one f64-accumulated product; precise mode reproduces that exactly.
float DequantizedDotPrecise(const float* x, const WeightMatrix& w, int64_t row) {
  double acc = 0.0;
  for (int64_t k = 0; k < w.cols; ++k) acc += double(x[k]) * double(WeightAt(w, row, k));
  return float(acc);
}

// Fast mode for FP8/FP4 weights: each weight row is decoded once for up to four
// activation rows (dequantised: q · s_a, exact), its power-of-two block scales folded in;
// fp32 accumulation in a fixed per-row order, so a row's result does not depend on T.
void LinearScaledRows(const PreparedActs& acts, int64_t T, const WeightMatrix& w, int64_t row_begin,
                      int64_t N, float* y, int64_t ldy, bool round_bf16, const DotKernels& dk) {
  const int64_t K = w.cols, nb = CeilDiv(K, kBlock);
  const bool fp4 = w.dtype == DType::kI8;
  const int64_t n_scales = fp4 ? K / kFp4Block : nb;
  ParallelFor(size_t(N), 4, [&](size_t n0, size_t n1) {
    thread_local std::vector<float> scales;
    scales.resize(static_cast<size_t>(n_scales));
    const float* xs[4];
    float out[4];
    for (int64_t n = int64_t(n0); n < int64_t(n1); ++n) {
      const int64_t r = row_begin + n;
      const uint8_t* srow = fp4 ? w.scale + r * n_scales : w.scale + (r / kBlock) * nb;
      for (int64_t i = 0; i < n_scales; ++i) scales[size_t(i)] = Ue8m0ToFloat(srow[i]);
      const uint8_t* wrow = fp4 ? w.data + r * (K / 2) : w.data + r * K;
      for (int64_t t0 = 0; t0 < T; t0 += 4) {
        const int rows = int(std::min<int64_t>(4, T - t0));
        for (int i = 0; i < rows; ++i) xs[i] = &acts.q[size_t((t0 + i) * K)];
        (fp4 ? dk.dot_e2m1_scaled_rows : dk.dot_e4m3_scaled_rows)(xs, rows, wrow, scales.data(), K, out);
        for (int i = 0; i < rows; ++i) y[(t0 + i) * ldy + n] = round_bf16 ? RoundBf16(out[i]) : out[i];
      }
    }
  });
}

}  // namespace

int64_t WeightMatrix::bytes() const {
  switch (dtype) {
    case DType::kF8E4M3: return rows * cols + CeilDiv(rows, kBlock) * CeilDiv(cols, kBlock);
    case DType::kI8: return rows * cols / 2 + rows * (cols / kFp4Block);
    default: return rows * cols * int64_t(DTypeSize(dtype));
  }
}

float WeightAt(const WeightMatrix& w, int64_t n, int64_t k) {
  switch (w.dtype) {
    case DType::kBF16:
      return Bf16ToFloat(reinterpret_cast<const uint16_t*>(w.data)[n * w.cols + k]);
    case DType::kF32:
      return reinterpret_cast<const float*>(w.data)[n * w.cols + k];
    case DType::kF8E4M3:
      return E4m3ToFloat(w.data[n * w.cols + k]) *
             Ue8m0ToFloat(w.scale[(n / kBlock) * CeilDiv(w.cols, kBlock) + k / kBlock]);
    case DType::kI8: {
      uint8_t byte = w.data[n * (w.cols / 2) + k / 2];
      uint8_t nib = (k & 1) ? (byte >> 4) : (byte & 15);
      return E2m1ToFloat(nib) * Ue8m0ToFloat(w.scale[n * (w.cols / kFp4Block) + k / kFp4Block]);
    }
    default:
      DSV4_CHECK(false);
  }
}

void QuantizeActFp8(const float* x, int64_t K, float* q, float* s) {
  // Bit-identical SIMD version where the active kernel set has AVX-512 (DSV4_ISA caps it).
  static const QuantizeActFp8Fn simd =
      std::string(ActiveDotKernels().isa) == "avx512" ? QuantizeActFp8Avx512() : nullptr;
  if (simd != nullptr) return simd(x, K, q, s);
  QuantizeActFp8Ref(x, K, q, s);
}

void QuantizeActFp8Ref(const float* x, int64_t K, float* q, float* s) {
  for (int64_t b = 0; b < K / kBlock; ++b) {
    const float* xb = x + b * kBlock;
    float amax = 0.0f;
    for (int64_t i = 0; i < kBlock; ++i) amax = std::max(amax, std::fabs(xb[i]));
    float scale = Fp8Scale(amax);
    s[b] = scale;
    for (int64_t i = 0; i < kBlock; ++i) {
      float v = std::clamp(xb[i] / scale, -kFp8Max, kFp8Max);
      q[b * kBlock + i] = RoundE4m3(v);
    }
  }
}

bool PackActivations(const float* x, int64_t T, int64_t K, DType dtype, bool act_quant, PackedActivations* out) {
  const DotKernels& dk = ActiveDotKernels();
  PackedFormat format;
  if (PreciseMath() || !PackedFormatFor(dtype, K, dk, &format)) return false;
  out->dtype = dtype;
  out->act_quant = act_quant && dtype != DType::kBF16;
  out->rows = T;
  out->cols = K;
  // LinearRowsStrided's fast path: bf16 weights take x as it is; FP8/FP4 weights take
  // the dequantised FP8 quantisation of x (or x itself without act_quant).
  const float* a = x;
  if (dtype != DType::kBF16) a = PrepareActs(x, K, T, K, act_quant, /*dequantize=*/true).q.data();
  if (!PackRows(a, T, K, format, dk, &out->packed)) return false;
  SplitForFma(out->packed, T, K, format, dk, &out->split);
  return true;
}

void LinearRowsPacked(const PackedActivations& x, const WeightMatrix& w, int64_t row_begin, int64_t row_end,
                      float* y, const LinearOptions& options) {
  const DotKernels& dk = ActiveDotKernels();
  PackedFormat format;
  DSV4_CHECK(w.dtype == x.dtype && w.cols == x.cols && PackedFormatFor(w.dtype, w.cols, dk, &format));
  DSV4_CHECK(x.act_quant == (options.act_quant && w.dtype != DType::kBF16));
  DSV4_CHECK(size_t(x.rows * x.cols) == x.packed.size() && row_begin >= 0 && row_end <= w.rows);
  const int64_t N = row_end - row_begin;
  LinearOnPacked(x.packed, x.split, x.rows, format, w, row_begin, N, y, N, options.round_bf16, dk);
}

void Linear(const float* x, int64_t T, const WeightMatrix& w, float* y,
            const LinearOptions& options) {
  LinearRows(x, T, w, 0, w.rows, y, options);
}

void LinearRows(const float* x, int64_t T, const WeightMatrix& w, int64_t row_begin,
                int64_t row_end, float* y, const LinearOptions& options) {
  LinearRowsStrided(x, w.cols, T, w, row_begin, row_end, y, row_end - row_begin, options);
}

void LinearRowsStrided(const float* x, int64_t x_stride, int64_t T, const WeightMatrix& w,
                       int64_t row_begin, int64_t row_end, float* y, int64_t y_stride,
                       const LinearOptions& options) {
  const int64_t K = w.cols;
  const int64_t N = row_end - row_begin;
  DSV4_CHECK(x_stride >= K && y_stride >= N);
  const DotKernels& dk = ActiveDotKernels();
  auto finish = [&](float v) { return options.round_bf16 ? RoundBf16(v) : v; };

  if (w.dtype == DType::kBF16 || w.dtype == DType::kF32) {
    if (x_stride != K) {  // the rows made contiguous (the paths below read x[t * K])
      x = PrepareActs(x, x_stride, T, K, /*act_quant=*/false, /*dequantize=*/false).q.data();
    }
    if (!PreciseMath() && LinearPacked(x, T, w, row_begin, N, y, y_stride, options.round_bf16, dk)) return;
    auto dot = [&](int64_t n, int64_t t) {
      const int64_t r = row_begin + n;
      const float v = w.dtype == DType::kBF16
                          ? dk.dot_bf16(x + t * K, reinterpret_cast<const uint16_t*>(w.data) + r * K, K)
                          : dk.dot_f32(x + t * K, reinterpret_cast<const float*>(w.data) + r * K, K);
      y[t * y_stride + n] = finish(v);
    };
    if (T == 1) {
      ParallelFor(size_t(N), 4, [&](size_t n0, size_t n1) {
        for (int64_t n = int64_t(n0); n < int64_t(n1); ++n) dot(n, 0);
      });
      return;
    }
    // Several rows of x: weight rows in blocks of about 512 KiB, each block against a chunk
    // of tokens, so the block stays in L2 across the chunk and each activation row is read
    // once per block. (Each weight row against all T rows of x read x again per weight row:
    // the HC mixers' F32 [24, 16384] at T = 512 read 32 MiB of x 24 times a call.) The
    // same dot per output either way.
    const int64_t bytes = w.dtype == DType::kBF16 ? 2 : 4;
    const int64_t block_rows = std::clamp<int64_t>((int64_t(512) << 10) / (K * bytes), 1, N);
    const int64_t blocks = (N + block_rows - 1) / block_rows;
    const int64_t chunk = (T + 15) / 16, chunks = (T + chunk - 1) / chunk;
    ParallelFor(size_t(blocks * chunks), 1, [&](size_t i0, size_t i1) {
      for (int64_t i = int64_t(i0); i < int64_t(i1); ++i) {
        const int64_t n0 = i % blocks * block_rows, n1 = std::min(N, n0 + block_rows);
        const int64_t t0 = i / blocks * chunk, t1 = std::min(T, t0 + chunk);
        for (int64_t t = t0; t < t1; ++t) {
          for (int64_t n = n0; n < n1; ++n) dot(n, t);
        }
      }
    });
    return;
  }

  if (!options.act_quant && PreciseMath()) {
    ParallelFor(size_t(N), 4, [&](size_t n0, size_t n1) {
      for (int64_t n = int64_t(n0); n < int64_t(n1); ++n) {
        for (int64_t t = 0; t < T; ++t) {
          y[t * y_stride + n] = finish(DequantizedDotPrecise(x + t * x_stride, w, row_begin + n));
        }
      }
    });
    return;
  }

  const bool fast = !PreciseMath() && K % 32 == 0;
  PreparedActs& acts = PrepareActs(x, x_stride, T, K, options.act_quant, /*dequantize=*/fast);
  if (fast) {
    if (LinearPacked(acts.q.data(), T, w, row_begin, N, y, y_stride, options.round_bf16, dk)) return;
    LinearScaledRows(acts, T, w, row_begin, N, y, y_stride, options.round_bf16, dk);
    return;
  }
  const int64_t nb = CeilDiv(K, kBlock);
  // The reference's arithmetic (precise mode, or K not a multiple of 32): per-block
  // partial sums, each scaled by s_a · s_w and added in block order in fp32.
  if (w.dtype == DType::kF8E4M3) {
    ParallelFor(size_t(N), 4, [&](size_t n0, size_t n1) {
      for (int64_t n = int64_t(n0); n < int64_t(n1); ++n) {
        const int64_t r = row_begin + n;
        const uint8_t* wrow = w.data + r * K;
        const uint8_t* srow = w.scale + (r / kBlock) * nb;
        for (int64_t t = 0; t < T; ++t) {
          float acc = 0.0f;
          for (int64_t b = 0; b < nb; ++b) {
            const int64_t len = std::min(kBlock, K - b * kBlock);
            const float partial = dk.dot_e4m3(&acts.q[size_t(t * K + b * kBlock)], wrow + b * kBlock, len);
            acc += partial * acts.s[size_t(t * nb + b)] * Ue8m0ToFloat(srow[b]);
          }
          y[t * y_stride + n] = finish(acc);
        }
      }
    });
    return;
  }

  DSV4_CHECK(w.dtype == DType::kI8);
  DSV4_CHECK(K % kFp4Block == 0);
  const int64_t ns = K / kFp4Block;
  ParallelFor(size_t(N), 4, [&](size_t n0, size_t n1) {
    thread_local std::vector<float> scales;
    scales.resize(static_cast<size_t>(ns));
    for (int64_t n = int64_t(n0); n < int64_t(n1); ++n) {
      const int64_t r = row_begin + n;
      const uint8_t* wrow = w.data + r * (K / 2);
      const uint8_t* srow = w.scale + r * ns;
      for (int64_t t = 0; t < T; ++t) {
        const float* sa = &acts.s[size_t(t * nb)];
        // sa · sw is exact (powers of two), so this equals the reference's part·sa·sw.
        for (int64_t c = 0; c < ns; ++c) {
          scales[size_t(c)] = sa[(c * kFp4Block) / kBlock] * Ue8m0ToFloat(srow[c]);
        }
        y[t * y_stride + n] = finish(dk.dot_e2m1_row(&acts.q[size_t(t * K)], wrow, scales.data(), ns));
      }
    }
  });
}

}  // namespace dsv4::kernels
