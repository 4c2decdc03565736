// Inner products between an fp32 activation row and one weight row in a stored
// format. One set of function pointers is chosen at start-up for the CPU's ISA
// (dot_dispatch.cc); ref/ holds the scalar reference each SIMD version is tested against.
#pragma once

#include <cstdint>

namespace dsv4::kernels {

// Layout of packed activations (pack_bf16_acts): each weight format's packed kernel reads
// its activations in the order its decoder produces weights. kE2m1Tile: FP4 weights whose
// products run in tile order (kernels/tile_order.h): per 512 values the 32-value blocks in
// the order kE2m1TileBlock, each in natural order.
enum class PackedFormat { kBf16, kE4m3, kE2m1, kE2m1Tile };

// Most activation rows one packed-kernel call takes.
constexpr int kPackedRowsMax = 8;
// Most bf16 weight rows one bf16_rows_packed call takes (each activation vector loaded
// once for all of them: at batch 16 the bf16 head is most of the step's arithmetic; with
// few activation rows, several weight rows keep enough accumulator chains in flight).
constexpr int kPackedWeightRowsMax = 6;
// Most weight rows (and activation rows) one e4m3_weight_rows / e2m1_weight_rows call takes.
constexpr int kWeightRowsMax = 4;

struct DotKernels {
  const char* isa;
  // sum_k x[k] * bf16(w[k])
  float (*dot_bf16)(const float* x, const uint16_t* w, int64_t n);
  // sum_k x[k] * w[k]
  float (*dot_f32)(const float* x, const float* w, int64_t n);
  // sum_k x[k] * e4m3(w[k]); n <= 128 (one scale block)
  float (*dot_e4m3)(const float* x, const uint8_t* w, int64_t n);
  // sum_k x[k] * e2m1(w[k]) over n = 32 values packed in 16 bytes (low nibble first)
  float (*dot_e2m1_32)(const float* x, const uint8_t* w);
  // A whole FP4 row: acc = 0; for c in [0, chunks): acc += dot_e2m1_32(x + 32c,
  // w + 16c) * scales[c], in fp32 and in that order (the reference's per-32 partial
  // sums, each scaled and added in turn); one call per row instead of one per chunk.
  float (*dot_e2m1_row)(const float* x, const uint8_t* w, const float* scales, int64_t chunks);

  // Fast-mode GEMV/GEMM building blocks: one weight row against `rows` (1..4) activation
  // rows at once, each weight vector decoded once for all of them. out[r] = sum_k
  // x[r][k] * value(w[k]) * scales[k / block] with block 32 (e2m1, w packed as above) or
  // 128 (e4m3); n a multiple of 32. The x rows are dequantised activations; the scales
  // are powers of two. A row's arithmetic is the same whatever `rows` is, so results do
  // not depend on the batch.
  void (*dot_e2m1_scaled_rows)(const float* const* x, int rows, const uint8_t* w,
                               const float* scales, int64_t n, float* out);
  void (*dot_e4m3_scaled_rows)(const float* const* x, int rows, const uint8_t* w,
                               const float* scales, int64_t n, float* out);

  // Fast-mode kernels on packed bf16 activations (nullptr in sets without them; the
  // caller falls back to the kernels above). pack_bf16_acts stores n fp32 values as bf16
  // in `format`'s layout and returns whether all were bf16-exact (the words are their
  // values only then); n a multiple of 32 (bf16),
  // 128 (e2m1, e4m3). The rows kernels compute, for `rows` (1..kPackedRowsMax)
  // packed activation rows x[r] and one weight row w of n values, out[r] = sum_k x[r][k]
  // · value(w[k]) · scale(k) with scale bytes ue8m0 per 32 (e2m1) or per 128 (e4m3)
  // values; fp32 accumulation, each weight vector decoded once for all rows, a row's
  // arithmetic the same whatever `rows` is.
  bool (*pack_bf16_acts)(const float* x, int64_t n, PackedFormat format, uint16_t* out);
  // bf16: wrows (1..kPackedWeightRowsMax) weight rows w + i * w_stride at once,
  // out[i * rows + r]; each output's arithmetic is the same whatever rows and wrows are.
  void (*bf16_rows_packed)(const uint16_t* const* x, int rows, const uint16_t* w,
                           int64_t w_stride, int wrows, int64_t n, float* out);
  void (*e4m3_rows_packed)(const uint16_t* const* x, int rows, const uint8_t* w,
                           const uint8_t* scale_bytes, int64_t n, float* out);
  void (*e2m1_rows_packed)(const uint16_t* const* x, int rows, const uint8_t* w,
                           const uint8_t* scale_bytes, int64_t n, float* out);

  // Attention scores of several heads against the same keys (nullptr in sets without it;
  // the caller falls back to dot_bf16): out[h * n + u] = sum_k q[h * d + k] · keys[u][k]
  // for `heads` query rows of bf16-exact fp32 values (the caller checks) and n bf16 key
  // rows of d values; fp32 accumulation (f64 in the reference), each output's arithmetic
  // the same whatever heads and n are.
  void (*dot_bf16_keys)(const float* q, int64_t heads, const uint16_t* const* keys, int64_t n,
                        int64_t d, float* out);

  // GEMM panels (nullptr where the set has no packed kernels). decode_*_row writes one
  // weight row of n values as bf16 words value(w[k]) (exact, scales not applied) in
  // `format`'s packed activation order; a batch decodes each weight row once into a
  // panel and reuses it for all its activation rows. panel_tile then computes, for wrows
  // (1..kPackedWeightRowsMax) panel rows panel + i * stride with their scales (fp32,
  // one per 128 values for e4m3, per 32 for e2m1: scales[i][k / block]) and `rows`
  // packed activation rows, out[i * rows + r] with exactly the arithmetic (same bits) of
  // e4m3_rows_packed / e2m1_rows_packed on that weight row.
  void (*decode_e4m3_row)(const uint8_t* w, int64_t n, uint16_t* out);
  void (*decode_e2m1_row)(const uint8_t* w, int64_t n, uint16_t* out);
  // prefetch (may be null): a cursor over bytes [*prefetch, prefetch_end) — the next
  // panel's weights — fetched into L2 one cache line per step of the tile loop, so the
  // next decode finds them without stalling; *prefetch advances.
  void (*panel_tile)(PackedFormat format, const uint16_t* const* x, int rows, const uint16_t* panel,
                     int64_t stride, int wrows, const float* const* scales, int64_t n, float* out,
                     const uint8_t** prefetch, const uint8_t* prefetch_end);
  // Decode's e4m3 product: rows (1..kWeightRowsMax) packed activation rows x[r] against
  // wrows (1..kWeightRowsMax) weight rows w + i * w_stride with their scale rows
  // scale_rows[i]: out[i * rows + r], each exactly e4m3_rows_packed's arithmetic. The
  // weight rows are walked in lockstep as separate streams (Linear passes rows far apart:
  // more DRAM pages in flight), prefetched ahead. nullptr in the sets without it.
  void (*e4m3_weight_rows)(const uint16_t* const* x, int rows, const uint8_t* w, int64_t w_stride,
                           const uint8_t* const* scale_rows, int wrows, int64_t n, float* out);
  // out[i] = Ue8m0ToFloat(s[i]) for a row of scale bytes (the panels' fp32 scales; nullptr
  // in sets without it: the caller converts one at a time).
  void (*ue8m0_to_float)(const uint8_t* s, int64_t n, float* out);
  // e4m3_weight_rows for e2m1 rows (w_stride in bytes; scale_rows[i] the row's K/32
  // ue8m0 scale bytes, converted inside as the streams go), each output exactly
  // e2m1_rows_packed's arithmetic. nullptr in the sets without it.
  void (*e2m1_weight_rows)(const uint16_t* const* x, int rows, const uint8_t* w, int64_t w_stride,
                           const uint8_t* const* scale_rows, int wrows, int64_t n, float* out);

  // e2m1_weight_rows on fp32 FMAs, for CPUs whose vdpbf16ps is exactly two fp32 FMAs per
  // lane (odd element first; checked at start-up) — nullptr elsewhere. Same bits as
  // e2m1_weight_rows wherever split_e2m1_acts accepted the activations.
  // split_e2m1_acts turns a packed e2m1 activation row (pack_bf16_acts) into fp32, per 32
  // packed values the 16 odd ones then the 16 even ones; it returns false if a nonzero
  // value is below 2^-118 in magnitude (vdpbf16ps flushes denormal products and sums,
  // FMAs do not; from 2^-118 up none can arise), and the caller then uses e2m1_weight_rows.
  bool (*split_e2m1_acts)(const uint16_t* x, int64_t n, float* out);
  void (*e2m1_weight_rows_fma)(const float* const* x, int rows, const uint8_t* w, int64_t w_stride,
                               const uint8_t* const* scale_rows, int wrows, int64_t n, float* out);
  // Whether Linear should take e2m1_weight_rows_fma: two FMAs timed faster than one
  // vdpbf16ps at start-up (Intel cores issue vdpbf16ps every other cycle), or
  // DSV4_E2M1_FMA=1 / 0.
  bool e2m1_fma_preferred;
};

// Scalar reference kernels.
const DotKernels& RefDotKernels();
// AVX2+FMA kernels, or nullptr if this build/CPU lacks them.
const DotKernels* Avx2DotKernels();
// AVX-512 (F/BW/VL/DQ/BF16/VBMI) kernels: the AVX2 set plus the packed kernels, or nullptr.
const DotKernels* Avx512DotKernels();
// The kernels used at run time (best available; DSV4_ISA=ref / avx2 caps the choice).
const DotKernels& ActiveDotKernels();

}  // namespace dsv4::kernels
