// AVX-512 attention P·V block sums for several heads over the same keys (this file alone
// is compiled with -mavx512f), in f64 (AttentionPvFn, precise mode) or fp32
// (AttentionPvF32Fn, fast mode) by one template over the accumulation type. The block's
// values are widened one slice of 8 vectors of dims at a time (64 keys x 64 doubles or
// 128 floats = 32 KiB, stays in L1) and every head then runs its keys over that slice with
// eight accumulators: a fused multiply-add per product (p·v of two bf16 values is exact
// in either type, so it rounds once, like the reference's add), keys in the reference's
// order, hence bit-identical. The widening is paid once per block rather than once per
// head.
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

// The accumulation types: a vector of kLanes values and its operations; Widen turns
// kLanes bf16 values into one vector.
struct F64 {
  using T = double;
  using V = __m512d;
  static constexpr int kLanes = 8;
  static V Zero() { return _mm512_setzero_pd(); }
  static V Load(const T* p) { return _mm512_loadu_pd(p); }
  static void Store(T* p, V v) { _mm512_storeu_pd(p, v); }
  static V Set1(T x) { return _mm512_set1_pd(x); }
  static V Fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V Widen(const uint16_t* w) {
    const __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
    return _mm512_cvtps_pd(_mm256_castsi256_ps(_mm256_slli_epi32(u, 16)));
  }
};
struct F32 {
  using T = float;
  using V = __m512;
  static constexpr int kLanes = 16;
  static V Zero() { return _mm512_setzero_ps(); }
  static V Load(const T* p) { return _mm512_loadu_ps(p); }
  static void Store(T* p, V v) { _mm512_storeu_ps(p, v); }
  static V Set1(T x) { return _mm512_set1_ps(x); }
  static V Fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V Widen(const uint16_t* w) {
    const __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
  }
};

// Heads [h0, h0 + HP) over the widened slice: HP·NV accumulators, each widened vector
// loaded once for the HP heads. p: probabilities in A::T, head h's at p + h * p_stride.
template <typename A, int NV, int HP>
inline void Heads(const typename A::T* p, int64_t p_stride, int64_t h0, int64_t u0, int64_t m, int64_t d,
                  int64_t i0, const typename A::T* wide, typename A::T* out) {
  constexpr int L = A::kLanes;
  typename A::V acc[HP][NV];
#pragma GCC unroll 2
  for (int k = 0; k < HP; ++k) {
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[k][j] = u0 == 0 ? A::Zero() : A::Load(out + (h0 + k) * d + i0 + L * j);
  }
  for (int64_t u = 0; u < m; ++u) {
    typename A::V pu[HP];
#pragma GCC unroll 2
    for (int k = 0; k < HP; ++k) pu[k] = A::Set1(p[(h0 + k) * p_stride + u0 + u]);
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      const typename A::V w = A::Load(wide + u * L * NV + L * j);
#pragma GCC unroll 2
      for (int k = 0; k < HP; ++k) acc[k][j] = A::Fma(pu[k], w, acc[k][j]);
    }
  }
#pragma GCC unroll 2
  for (int k = 0; k < HP; ++k) {
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) A::Store(out + (h0 + k) * d + i0 + L * j, acc[k][j]);
  }
}

// Dims [i0, i0 + L·NV) of every head for keys [u0, u0 + m): widened values in `wide`
// ([m][L·NV]), accumulators started from zero (first pass) or from out.
template <typename A, int NV>
void Slice(const typename A::T* p, int64_t p_stride, int64_t heads, const uint16_t* const* v, int64_t u0,
           int64_t m, int64_t d, int64_t i0, typename A::T* wide, typename A::T* out) {
  constexpr int L = A::kLanes;
  for (int64_t u = 0; u < m; ++u) {
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) A::Store(wide + u * L * NV + L * j, A::Widen(v[u0 + u] + i0 + L * j));
  }
  int64_t h = 0;
  for (; h + 2 <= heads; h += 2) Heads<A, NV, 2>(p, p_stride, h, u0, m, d, i0, wide, out);
  for (; h < heads; ++h) Heads<A, NV, 1>(p, p_stride, h, u0, m, d, i0, wide, out);
}

// The block sums of every head in A::T (probabilities already in A::T).
template <typename A>
void BlockSums(const typename A::T* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
               int64_t n, int64_t d, typename A::T* out) {
  using T = typename A::T;
  constexpr int L = A::kLanes;
  if (n == 0) {
    std::fill(out, out + heads * d, T(0));
    return;
  }
  thread_local std::vector<T> wide;
  wide.resize(size_t(kKeysPerPass * 8 * L));
  const int64_t dv = d - d % L;
  for (int64_t u0 = 0; u0 < n; u0 += kKeysPerPass) {
    const int64_t m = std::min(kKeysPerPass, n - u0);
    int64_t i0 = 0;
    for (; i0 + 8 * L <= dv; i0 += 8 * L) Slice<A, 8>(p, p_stride, heads, v, u0, m, d, i0, wide.data(), out);
    for (; i0 < dv; i0 += L) Slice<A, 1>(p, p_stride, heads, v, u0, m, d, i0, wide.data(), out);
  }
  for (int64_t h = 0; h < heads; ++h) {  // tail dims
    for (int64_t i = dv; i < d; ++i) {
      T acc = 0;
      for (int64_t u = 0; u < n; ++u) acc = std::fma(p[h * p_stride + u], T(Bf16ToFloat(v[u][i])), acc);
      out[h * d + i] = acc;
    }
  }
}

void AttentionPvAvx512Impl(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
                           int64_t n, int64_t d, double* out) {
  thread_local std::vector<double> pd;  // the probabilities as doubles, rows n apart
  pd.resize(size_t(heads * n));
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t u = 0; u < n; ++u) pd[size_t(h * n + u)] = double(p[h * p_stride + u]);
  }
  BlockSums<F64>(pd.data(), n, heads, v, n, d, out);
}

void AttentionPvF32Avx512Impl(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
                              int64_t n, int64_t d, float* out) {
  BlockSums<F32>(p, p_stride, heads, v, n, d, out);
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
