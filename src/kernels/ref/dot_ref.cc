// Scalar reference dot products: the definition every SIMD version must match.
// They accumulate in double and round once (the precise mode uses them directly).
#include <bit>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/dot.h"

namespace dsv4::kernels {
namespace {

float DotBf16Ref(const float* x, const uint16_t* w, int64_t n) {
  double acc = 0.0;
  for (int64_t k = 0; k < n; ++k) acc += double(x[k]) * double(Bf16ToFloat(w[k]));
  return float(acc);
}

float DotF32Ref(const float* x, const float* w, int64_t n) {
  double acc = 0.0;
  for (int64_t k = 0; k < n; ++k) acc += double(x[k]) * double(w[k]);
  return float(acc);
}

float DotE4m3Ref(const float* x, const uint8_t* w, int64_t n) {
  double acc = 0.0;
  for (int64_t k = 0; k < n; ++k) acc += double(x[k]) * double(E4m3ToFloat(w[k]));
  return float(acc);
}

float DotE2m1x32Ref(const float* x, const uint8_t* w) {
  double acc = 0.0;
  for (int j = 0; j < 16; ++j) {
    acc += double(x[2 * j]) * double(E2m1ToFloat(w[j] & 15));
    acc += double(x[2 * j + 1]) * double(E2m1ToFloat(w[j] >> 4));
  }
  return float(acc);
}

float DotE2m1RowRef(const float* x, const uint8_t* w, const float* scales, int64_t chunks) {
  float acc = 0.0f;
  for (int64_t c = 0; c < chunks; ++c) acc += DotE2m1x32Ref(x + 32 * c, w + 16 * c) * scales[c];
  return acc;
}

void DotE2m1ScaledRowsRef(const float* const* x, int rows, const uint8_t* w,
                          const float* scales, int64_t n, float* out) {
  for (int r = 0; r < rows; ++r) {
    double acc = 0.0;
    for (int64_t k = 0; k < n; ++k) {
      const uint8_t nib = (k & 1) ? (w[k / 2] >> 4) : (w[k / 2] & 15);
      acc += double(x[r][k]) * double(E2m1ToFloat(nib)) * double(scales[k / 32]);
    }
    out[r] = float(acc);
  }
}

void DotE4m3ScaledRowsRef(const float* const* x, int rows, const uint8_t* w,
                          const float* scales, int64_t n, float* out) {
  for (int r = 0; r < rows; ++r) {
    double acc = 0.0;
    for (int64_t k = 0; k < n; ++k) {
      acc += double(x[r][k]) * double(E4m3ToFloat(w[k])) * double(scales[k / 128]);
    }
    out[r] = float(acc);
  }
}

// The reference packed layout is the natural order for every format.
bool PackActsRef(const float* x, int64_t n, PackedFormat, uint16_t* out) {
  uint32_t low = 0;
  for (int64_t k = 0; k < n; ++k) {
    low |= std::bit_cast<uint32_t>(x[k]) & 0xFFFFu;
    out[k] = FloatToBf16(x[k]);
  }
  return low == 0;
}

void Bf16RowsPackedRef(const uint16_t* const* x, int rows, const uint16_t* w, int64_t w_stride,
                       int wrows, int64_t n, float* out) {
  for (int i = 0; i < wrows; ++i) {
    for (int r = 0; r < rows; ++r) {
      double acc = 0.0;
      for (int64_t k = 0; k < n; ++k) {
        acc += double(Bf16ToFloat(x[r][k])) * double(Bf16ToFloat(w[i * w_stride + k]));
      }
      out[i * rows + r] = float(acc);
    }
  }
}

void E4m3RowsPackedRef(const uint16_t* const* x, int rows, const uint8_t* w,
                       const uint8_t* scale_bytes, int64_t n, float* out) {
  for (int r = 0; r < rows; ++r) {
    double acc = 0.0;
    for (int64_t k = 0; k < n; ++k) {
      acc += double(Bf16ToFloat(x[r][k])) * double(E4m3ToFloat(w[k])) *
             double(Ue8m0ToFloat(scale_bytes[k / 128]));
    }
    out[r] = float(acc);
  }
}

void E2m1RowsPackedRef(const uint16_t* const* x, int rows, const uint8_t* w,
                       const uint8_t* scale_bytes, int64_t n, float* out) {
  for (int r = 0; r < rows; ++r) {
    double acc = 0.0;
    for (int64_t k = 0; k < n; ++k) {
      const uint8_t nib = (k & 1) ? (w[k / 2] >> 4) : (w[k / 2] & 15);
      acc += double(Bf16ToFloat(x[r][k])) * double(E2m1ToFloat(nib)) *
             double(Ue8m0ToFloat(scale_bytes[k / 32]));
    }
    out[r] = float(acc);
  }
}

// Panels in the natural order; the double sums below are term for term those of the
// rows kernels above, so a panel gives the same bits.
void DecodeE4m3RowRef(const uint8_t* w, int64_t n, uint16_t* out) {
  for (int64_t k = 0; k < n; ++k) out[k] = FloatToBf16(E4m3ToFloat(w[k]));
}

void DecodeE2m1RowRef(const uint8_t* w, int64_t n, uint16_t* out) {
  for (int64_t k = 0; k < n; ++k) out[k] = FloatToBf16(E2m1ToFloat((k & 1) ? (w[k / 2] >> 4) : (w[k / 2] & 15)));
}

void PanelTileRef(PackedFormat format, const uint16_t* const* x, int rows, const uint16_t* panel,
                  int64_t stride, int wrows, const float* const* scales, int64_t n, float* out,
                  const uint8_t**, const uint8_t*) {
  DSV4_CHECK(format != PackedFormat::kBf16);
  const int64_t block = format == PackedFormat::kE4m3 ? 128 : 32;
  for (int i = 0; i < wrows; ++i) {
    for (int r = 0; r < rows; ++r) {
      double acc = 0.0;
      for (int64_t k = 0; k < n; ++k) {
        acc += double(Bf16ToFloat(x[r][k])) * double(Bf16ToFloat(panel[i * stride + k])) *
               double(scales[i][k / block]);
      }
      out[i * rows + r] = float(acc);
    }
  }
}

}  // namespace

void DotBf16KeysRef(const float* q, int64_t heads, const uint16_t* const* keys, int64_t n, int64_t d,
                    float* out) {
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t u = 0; u < n; ++u) out[h * n + u] = DotBf16Ref(q + h * d, keys[u], d);
  }
}

const DotKernels& RefDotKernels() {
  static const DotKernels k{"ref",         DotBf16Ref,           DotF32Ref,
                            DotE4m3Ref,    DotE2m1x32Ref,        DotE2m1RowRef,
                            DotE2m1ScaledRowsRef, DotE4m3ScaledRowsRef,
                            PackActsRef,   Bf16RowsPackedRef,    E4m3RowsPackedRef,
                            E2m1RowsPackedRef, DotBf16KeysRef,    DecodeE4m3RowRef,
                            DecodeE2m1RowRef,  PanelTileRef,         nullptr,
                            nullptr,       nullptr,              nullptr,
                            nullptr,       false};
  return k;
}

}  // namespace dsv4::kernels
