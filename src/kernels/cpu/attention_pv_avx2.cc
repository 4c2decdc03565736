// AVX2 attention P·V block sum (compiled with -mavx2 -mfma), head by head: 16 dims at a
// time held in four 4-lane double accumulators while the block's keys stream past (values
// widened to double, fused multiply-add: exact products, one rounding per add); the
// per-dimension order of additions is the reference's (key by key), so the result is
// bit-identical.
#include <immintrin.h>

#include <cmath>

#include "core/dtype.h"
#include "kernels/attention_pv.h"

namespace dsv4::kernels {
namespace {

inline __m256 LoadBf16x8(const uint16_t* w) {
  const __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
}

void AttentionPvHeadAvx2(const float* p, const uint16_t* const* v, int64_t n, int64_t d, double* out) {
  int64_t i0 = 0;
  for (; i0 + 16 <= d; i0 += 16) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    __m256d a2 = _mm256_setzero_pd(), a3 = _mm256_setzero_pd();
    for (int64_t u = 0; u < n; ++u) {
      // p·v is exact in double (8 x 8 significant bits), so the fused multiply-add
      // rounds exactly once, like the reference's multiply then add.
      const __m256d pu = _mm256_set1_pd(double(p[u]));
      const __m256 v0 = LoadBf16x8(v[u] + i0), v1 = LoadBf16x8(v[u] + i0 + 8);
      a0 = _mm256_fmadd_pd(pu, _mm256_cvtps_pd(_mm256_castps256_ps128(v0)), a0);
      a1 = _mm256_fmadd_pd(pu, _mm256_cvtps_pd(_mm256_extractf128_ps(v0, 1)), a1);
      a2 = _mm256_fmadd_pd(pu, _mm256_cvtps_pd(_mm256_castps256_ps128(v1)), a2);
      a3 = _mm256_fmadd_pd(pu, _mm256_cvtps_pd(_mm256_extractf128_ps(v1, 1)), a3);
    }
    _mm256_storeu_pd(out + i0, a0);
    _mm256_storeu_pd(out + i0 + 4, a1);
    _mm256_storeu_pd(out + i0 + 8, a2);
    _mm256_storeu_pd(out + i0 + 12, a3);
  }
  for (int64_t i = i0; i < d; ++i) {  // tail dims
    double acc = 0.0;
    for (int64_t u = 0; u < n; ++u) acc += double(p[u]) * double(Bf16ToFloat(v[u][i]));
    out[i] = acc;
  }
}

void AttentionPvAvx2Impl(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
                         int64_t n, int64_t d, double* out) {
  for (int64_t h = 0; h < heads; ++h) AttentionPvHeadAvx2(p + h * p_stride, v, n, d, out + h * d);
}

// fp32 (AttentionPvF32Fn): 32 dims of one head in four 8-lane accumulators while the
// block's keys stream past, one fused multiply-add per key and lane in key order.
void AttentionPvF32HeadAvx2(const float* p, const uint16_t* const* v, int64_t n, int64_t d, float* out) {
  int64_t i0 = 0;
  for (; i0 + 32 <= d; i0 += 32) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (int64_t u = 0; u < n; ++u) {
      const __m256 pu = _mm256_set1_ps(p[u]);
      a0 = _mm256_fmadd_ps(pu, LoadBf16x8(v[u] + i0), a0);
      a1 = _mm256_fmadd_ps(pu, LoadBf16x8(v[u] + i0 + 8), a1);
      a2 = _mm256_fmadd_ps(pu, LoadBf16x8(v[u] + i0 + 16), a2);
      a3 = _mm256_fmadd_ps(pu, LoadBf16x8(v[u] + i0 + 24), a3);
    }
    _mm256_storeu_ps(out + i0, a0);
    _mm256_storeu_ps(out + i0 + 8, a1);
    _mm256_storeu_ps(out + i0 + 16, a2);
    _mm256_storeu_ps(out + i0 + 24, a3);
  }
  for (; i0 + 8 <= d; i0 += 8) {
    __m256 a = _mm256_setzero_ps();
    for (int64_t u = 0; u < n; ++u) a = _mm256_fmadd_ps(_mm256_set1_ps(p[u]), LoadBf16x8(v[u] + i0), a);
    _mm256_storeu_ps(out + i0, a);
  }
  for (int64_t i = i0; i < d; ++i) {  // tail dims
    float acc = 0.0f;
    for (int64_t u = 0; u < n; ++u) acc = std::fma(p[u], Bf16ToFloat(v[u][i]), acc);
    out[i] = acc;
  }
}

void AttentionPvF32Avx2Impl(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
                            int64_t n, int64_t d, float* out) {
  for (int64_t h = 0; h < heads; ++h) AttentionPvF32HeadAvx2(p + h * p_stride, v, n, d, out + h * d);
}

}  // namespace

AttentionPvF32Fn AttentionPvF32Avx2() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported ? AttentionPvF32Avx2Impl : nullptr;
}

AttentionPvFn AttentionPvAvx2() {
  static const bool supported = __builtin_cpu_supports("avx2");
  return supported ? AttentionPvAvx2Impl : nullptr;
}

}  // namespace dsv4::kernels
