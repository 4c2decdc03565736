// AVX-512 attention P·V block sums for several heads over the same keys (this file alone
// is compiled with -mavx512f). The block's values are widened to double one slice of 64
// dims at a time (64 keys x 64 dims = 32 KiB, stays in L1) and every head then runs its
// keys over that slice with eight 8-lane double accumulators: a fused multiply-add per
// product (p·v is exact in double, so it rounds once, like the reference's add), keys in
// the reference's order, hence bit-identical. The widening is paid once per block rather
// than once per head.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as pass-through operands, which
// its own -W(maybe-)uninitialized then reports inside the header (a known false alarm).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/dtype.h"
#include "kernels/attention_pv.h"

namespace dsv4::kernels {
namespace {

constexpr int64_t kKeysPerPass = 64;  // keys widened per pass (the attention block)

// 8·NV bf16 values at w as NV vectors of 8 doubles.
template <int NV>
inline void WidenBf16(const uint16_t* w, __m512d* out) {
#pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) {
    const __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 8 * j)));
    out[j] = _mm512_cvtps_pd(_mm256_castsi256_ps(_mm256_slli_epi32(u, 16)));
  }
}

// Heads [h0, h0 + HP) over the widened slice: HP·NV accumulators, each widened vector
// loaded once for the HP heads.
template <int NV, int HP>
inline void Heads(const double* pd, int64_t n, int64_t h0, int64_t u0, int64_t m, int64_t d, int64_t i0,
                  const double* wide, double* out) {
  __m512d acc[HP][NV];
#pragma GCC unroll 2
  for (int k = 0; k < HP; ++k) {
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      acc[k][j] = u0 == 0 ? _mm512_setzero_pd() : _mm512_loadu_pd(out + (h0 + k) * d + i0 + 8 * j);
    }
  }
  for (int64_t u = 0; u < m; ++u) {
    __m512d pu[HP];
#pragma GCC unroll 2
    for (int k = 0; k < HP; ++k) pu[k] = _mm512_set1_pd(pd[(h0 + k) * n + u0 + u]);
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      const __m512d w = _mm512_loadu_pd(wide + u * 8 * NV + 8 * j);
#pragma GCC unroll 2
      for (int k = 0; k < HP; ++k) acc[k][j] = _mm512_fmadd_pd(pu[k], w, acc[k][j]);
    }
  }
#pragma GCC unroll 2
  for (int k = 0; k < HP; ++k) {
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) _mm512_storeu_pd(out + (h0 + k) * d + i0 + 8 * j, acc[k][j]);
  }
}

// Dims [i0, i0 + 8·NV) of every head for keys [u0, u0 + m): widened values in `wide`
// ([m][8·NV]), accumulators started from zero (first pass) or from out.
template <int NV>
void Slice(const double* pd, int64_t n, int64_t heads, const uint16_t* const* v, int64_t u0,
           int64_t m, int64_t d, int64_t i0, double* wide, double* out) {
  for (int64_t u = 0; u < m; ++u) {
    __m512d w[NV];
    WidenBf16<NV>(v[u0 + u] + i0, w);
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) _mm512_storeu_pd(wide + u * 8 * NV + 8 * j, w[j]);
  }
  int64_t h = 0;
  for (; h + 2 <= heads; h += 2) Heads<NV, 2>(pd, n, h, u0, m, d, i0, wide, out);
  for (; h < heads; ++h) Heads<NV, 1>(pd, n, h, u0, m, d, i0, wide, out);
}

void AttentionPvAvx512Impl(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
                           int64_t n, int64_t d, double* out) {
  if (n == 0) {
    std::fill(out, out + heads * d, 0.0);
    return;
  }
  thread_local std::vector<double> pd, wide;
  pd.resize(size_t(heads * n));
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t u = 0; u < n; ++u) pd[size_t(h * n + u)] = double(p[h * p_stride + u]);
  }
  wide.resize(size_t(kKeysPerPass * 64));
  const int64_t d8 = d - d % 8;
  for (int64_t u0 = 0; u0 < n; u0 += kKeysPerPass) {
    const int64_t m = std::min(kKeysPerPass, n - u0);
    int64_t i0 = 0;
    for (; i0 + 64 <= d8; i0 += 64) Slice<8>(pd.data(), n, heads, v, u0, m, d, i0, wide.data(), out);
    for (; i0 < d8; i0 += 8) Slice<1>(pd.data(), n, heads, v, u0, m, d, i0, wide.data(), out);
  }
  for (int64_t h = 0; h < heads; ++h) {  // tail dims
    for (int64_t i = d8; i < d; ++i) {
      double acc = 0.0;
      for (int64_t u = 0; u < n; ++u) acc += pd[size_t(h * n + u)] * double(Bf16ToFloat(v[u][i]));
      out[h * d + i] = acc;
    }
  }
}

// fp32 (AttentionPvF32Fn), the same structure: a block slice of 64 keys x 16·NV dims
// widened to fp32 once for all heads (bf16 -> fp32 is a shift), then two heads at a time
// run the keys over it with 2·NV 16-lane accumulators, one fused multiply-add per key
// and lane in key order (bit-identical to AttentionPvF32Ref).
inline __m512 WidenBf16x16(const uint16_t* w) {
  const __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}

template <int NV, int HP>
inline void HeadsF32(const float* p, int64_t p_stride, int64_t h0, int64_t u0, int64_t m, int64_t d,
                     int64_t i0, const float* wide, float* out) {
  __m512 acc[HP][NV];
#pragma GCC unroll 2
  for (int k = 0; k < HP; ++k) {
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      acc[k][j] = u0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(out + (h0 + k) * d + i0 + 16 * j);
    }
  }
  for (int64_t u = 0; u < m; ++u) {
    __m512 pu[HP];
#pragma GCC unroll 2
    for (int k = 0; k < HP; ++k) pu[k] = _mm512_set1_ps(p[(h0 + k) * p_stride + u0 + u]);
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      const __m512 w = _mm512_loadu_ps(wide + u * 16 * NV + 16 * j);
#pragma GCC unroll 2
      for (int k = 0; k < HP; ++k) acc[k][j] = _mm512_fmadd_ps(pu[k], w, acc[k][j]);
    }
  }
#pragma GCC unroll 2
  for (int k = 0; k < HP; ++k) {
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) _mm512_storeu_ps(out + (h0 + k) * d + i0 + 16 * j, acc[k][j]);
  }
}

template <int NV>
void SliceF32(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v, int64_t u0,
              int64_t m, int64_t d, int64_t i0, float* wide, float* out) {
  for (int64_t u = 0; u < m; ++u) {
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) _mm512_storeu_ps(wide + u * 16 * NV + 16 * j, WidenBf16x16(v[u0 + u] + i0 + 16 * j));
  }
  int64_t h = 0;
  for (; h + 2 <= heads; h += 2) HeadsF32<NV, 2>(p, p_stride, h, u0, m, d, i0, wide, out);
  for (; h < heads; ++h) HeadsF32<NV, 1>(p, p_stride, h, u0, m, d, i0, wide, out);
}

void AttentionPvF32Avx512Impl(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
                              int64_t n, int64_t d, float* out) {
  if (n == 0) {
    std::fill(out, out + heads * d, 0.0f);
    return;
  }
  thread_local std::vector<float> wide;
  wide.resize(size_t(kKeysPerPass * 128));
  const int64_t d16 = d - d % 16;
  for (int64_t u0 = 0; u0 < n; u0 += kKeysPerPass) {
    const int64_t m = std::min(kKeysPerPass, n - u0);
    int64_t i0 = 0;
    for (; i0 + 128 <= d16; i0 += 128) SliceF32<8>(p, p_stride, heads, v, u0, m, d, i0, wide.data(), out);
    for (; i0 < d16; i0 += 16) SliceF32<1>(p, p_stride, heads, v, u0, m, d, i0, wide.data(), out);
  }
  for (int64_t h = 0; h < heads; ++h) {  // tail dims
    for (int64_t i = d16; i < d; ++i) {
      float acc = 0.0f;
      for (int64_t u = 0; u < n; ++u) acc = std::fma(p[h * p_stride + u], Bf16ToFloat(v[u][i]), acc);
      out[h * d + i] = acc;
    }
  }
}

}  // namespace

AttentionPvF32Fn AttentionPvF32Avx512() {
  static const bool supported = __builtin_cpu_supports("avx512f");
  return supported ? AttentionPvF32Avx512Impl : nullptr;
}

AttentionPvFn AttentionPvAvx512() {
  static const bool supported = __builtin_cpu_supports("avx512f");
  return supported ? AttentionPvAvx512Impl : nullptr;
}

}  // namespace dsv4::kernels
