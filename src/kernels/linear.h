// Linear layers in every weight format V4 checkpoints ship, with the reference's
// dispatch on the stored dtype (spec §2.5):
//   F8_E4M3 + ue8m0 [ceil(N/128), ceil(K/128)] block scales -> FP8 activation quantisation
//            (128-blocks along K, power-of-two scales), per-block partial sums scaled and
//            accumulated in fp32;
//   I8 (packed FP4 e2m1, low nibble = even k) + ue8m0 [N, K/32] scales -> FP8 activation
//            quantisation, per-32 partial sums;
//   BF16 / F32 -> plain fp32 dot products (no activation quantisation).
// Weights are used in place (they point into the checkpoint's memory map; a bf16 matrix
// may also carry a 16-row blocked copy, WeightMatrix::row_blocks).
#pragma once

#include <cstdint>
#include <vector>

#include "core/aligned_vector.h"
#include "core/dtype.h"

namespace dsv4::kernels {

// A weight matrix W of logical shape [rows = N (out), cols = K (in)] in its stored format.
struct WeightMatrix {
  DType dtype = DType::kBF16;  // kBF16, kF32, kF8E4M3 or kI8 (packed fp4)
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t* data = nullptr;   // row-major; fp4: [N, K/2] bytes
  const uint8_t* scale = nullptr;  // ue8m0 bytes; fp8: [ceil(N/128), ceil(K/128)], fp4: [N, K/32]
  // bf16 only, optional: the same weights in 16-row blocks (kernels/bf16_row_blocks.h),
  // made at load by the owner of the matrix. Fast-mode products then use them for every
  // call (one arithmetic whatever T); `data` stays valid for the other paths.
  const uint16_t* row_blocks = nullptr;
  bool empty() const { return data == nullptr; }
  // Weight bytes read for one product (data + scales).
  int64_t bytes() const;
};

struct LinearOptions {
  // Simulate the FP8 activation quantisation of FP8/FP4 linears (the reference does).
  bool act_quant = true;
  // Round outputs to bf16 (the reference's bf16 linears); false keeps fp32 outputs.
  bool round_bf16 = true;
};

// y: [T, N] = x: [T, K] · Wᵀ. x rows hold bf16-exact (or fp32) values. Uses all threads.
void Linear(const float* x, int64_t T, const WeightMatrix& w, float* y,
            const LinearOptions& options);

// y: [T, row_end - row_begin] = x: [T, K] · W[row_begin:row_end]ᵀ — a slice of W's
// output rows (the grouped wo_a projection uses one slice per group).
void LinearRows(const float* x, int64_t T, const WeightMatrix& w, int64_t row_begin,
                int64_t row_end, float* y, const LinearOptions& options);

// LinearRows on strided rows: x row t at x + t * x_stride (>= K), y row t at
// y + t * y_stride (>= row_end - row_begin); same results. Lets a caller multiply a
// column block of a wider matrix without gathering it (the grouped wo_a projection).
void LinearRowsStrided(const float* x, int64_t x_stride, int64_t T, const WeightMatrix& w,
                       int64_t row_begin, int64_t row_end, float* y, int64_t y_stride,
                       const LinearOptions& options);

// Activations quantised (FP8/FP4 weights with act_quant) and packed once for several
// products with weights of one stored format: decode at batch 1 multiplies the same row
// by slices of seven experts' matrices, and preparing it again for each slice took ~8% of
// a batch-1 MoE profile's samples against 64% in the weight kernels (perf).
// Packed activation rows and their fp32 split, on cache lines: AMX tiles and AVX-512
// loads of rows that straddle lines read twice the lines (core/aligned_vector.h).
using PackedRows = AlignedVector<uint16_t>;
using SplitRows = AlignedVector<float>;

struct PackedActivations {
  DType dtype = DType::kBF16;  // the weights' stored format they are packed for
  bool act_quant = false;
  int64_t rows = 0;
  int64_t cols = 0;
  PackedRows packed;  // [rows, cols] bf16 in the format's packed order
  SplitRows split;    // the same as fp32 for FP4's FMA kernels, or empty (linear.cc)
};

// Packs x: [T, K] for LinearRowsPacked with weights of `dtype` (kBF16, kF8E4M3, kI8)
// and act_quant as the products' LinearOptions say. Returns false (out unusable) where
// the fast packed kernels do not apply: precise mode, a kernel set without them, a K
// they do not take, values that are not bf16-exact. Then use LinearRows.
bool PackActivations(const float* x, int64_t T, int64_t K, DType dtype, bool act_quant, PackedActivations* out);

// LinearRows on packed activations: the same bits as LinearRows(x, T, w, row_begin,
// row_end, y, options) on the x they were packed from. w's format, K and act_quant must
// be those x was packed for.
void LinearRowsPacked(const PackedActivations& x, const WeightMatrix& w, int64_t row_begin, int64_t row_end,
                      float* y, const LinearOptions& options);

// Dequantised weight element W[n][k] (exact), for tests and slow paths.
float WeightAt(const WeightMatrix& w, int64_t n, int64_t k);

// FP8 activation quantisation of one row (spec §2.5 step 1): for each 128-block of x
// (K must be a multiple of 128), q[k] = e4m3(x[k] / s) with s the power-of-two scale.
// q: [K] e4m3 values as floats, s: [K/128].
// Uses the bit-identical AVX-512 version (kernels/act_quant.h) where available.
void QuantizeActFp8(const float* x, int64_t K, float* q, float* s);
// The scalar reference of QuantizeActFp8.
void QuantizeActFp8Ref(const float* x, int64_t K, float* q, float* s);

}  // namespace dsv4::kernels
