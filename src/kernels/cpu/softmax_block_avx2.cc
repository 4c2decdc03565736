// AVX2 fast-mode softmax block (kernels/softmax_block.h; compiled with -mavx2 -mfma): 16
// keys a step in two 8-lane halves (lanes 0-7, 8-15 of the reference's 16 lane sums), the
// reference's operations lane by lane.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/softmax_block.h"

namespace dsv4::kernels {
namespace {

inline __m256 SoftmaxExp8(__m256 x) {
  using namespace softmax_exp;
  x = _mm256_min_ps(_mm256_set1_ps(kMax), x);  // kMax < x ? kMax : x
  const __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(kMin), _CMP_NLT_UQ);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 y = _mm256_set1_ps(kPoly[0]);
  for (int i = 1; i < 6; ++i) y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(kPoly[i]));
  y = _mm256_add_ps(_mm256_fmadd_ps(y, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  const __m256i pow2 = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_and_ps(keep, _mm256_mul_ps(y, _mm256_castsi256_ps(pow2)));
}

// RoundBf16 (core/dtype.h) on 8 lanes: nearest even at bit 16, a NaN kept quiet.
inline __m256 RoundBf16x8(__m256 x) {
  const __m256i u = _mm256_castps_si256(x);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb));
  const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
  const __m256i bits = _mm256_blendv_epi8(rounded, _mm256_or_si256(u, _mm256_set1_epi32(0x00400000)), nan);
  return _mm256_castsi256_ps(_mm256_and_si256(bits, _mm256_set1_epi32(int(0xffff0000u))));
}

// Keys u.. u + 15 of s times scale, -inf past n (a copy for the last, partial step).
inline void ScaledStep(const float* s, int64_t u, int64_t n, __m256 scale, __m256* lo, __m256* hi) {
  if (n - u >= 16) {
    *lo = _mm256_mul_ps(_mm256_loadu_ps(s + u), scale);
    *hi = _mm256_mul_ps(_mm256_loadu_ps(s + u + 8), scale);
    return;
  }
  alignas(32) float z[16];
  for (int i = 0; i < 16; ++i) z[i] = u + i < n ? s[u + i] * scale[0] : -INFINITY;
  *lo = _mm256_load_ps(z);
  *hi = _mm256_load_ps(z + 8);
}

void SoftmaxBlockAvx2Impl(const float* scores, int64_t heads, int64_t n, float scale, float* m, float* p,
                          int64_t p_stride, float* alpha, float* sum, uint8_t* live) {
  const __m256 vscale = _mm256_set1_ps(scale);
  for (int64_t h = 0; h < heads; ++h) {
    const float* s = scores + h * n;
    float* ph = p + h * p_stride;
    __m256 mx = _mm256_set1_ps(-INFINITY);
    for (int64_t u = 0; u < n; u += 16) {
      __m256 lo, hi;
      ScaledStep(s, u, n, vscale, &lo, &hi);
      mx = _mm256_max_ps(_mm256_max_ps(lo, hi), mx);
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, mx);
    float block_max = -INFINITY;
    for (float v : lanes) block_max = v > block_max ? v : block_max;
    const float m_new = block_max > m[h] ? block_max : m[h];
    live[h] = m_new != -INFINITY;
    if (!live[h]) {
      for (int64_t u = 0; u < p_stride; ++u) ph[u] = 0.0f;
      continue;
    }
    alpha[h] = SoftmaxExp(m[h] - m_new);
    const __m256 vm = _mm256_set1_ps(m_new);
    __m256 acc_lo = _mm256_setzero_ps(), acc_hi = _mm256_setzero_ps();
    for (int64_t u = 0; u < n; u += 16) {
      __m256 lo, hi;
      ScaledStep(s, u, n, vscale, &lo, &hi);
      const __m256 e_lo = SoftmaxExp8(_mm256_sub_ps(lo, vm)), e_hi = SoftmaxExp8(_mm256_sub_ps(hi, vm));
      acc_lo = _mm256_add_ps(acc_lo, e_lo);
      acc_hi = _mm256_add_ps(acc_hi, e_hi);
      if (n - u >= 16) {
        _mm256_storeu_ps(ph + u, RoundBf16x8(e_lo));
        _mm256_storeu_ps(ph + u + 8, RoundBf16x8(e_hi));
      } else {
        alignas(32) float out[16];
        _mm256_store_ps(out, RoundBf16x8(e_lo));
        _mm256_store_ps(out + 8, RoundBf16x8(e_hi));
        std::copy(out, out + (n - u), ph + u);
      }
    }
    // Lane l + 8 into l (the halves), then + 4, + 2, + 1.
    const __m256 a = _mm256_add_ps(acc_lo, acc_hi);
    const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
    sum[h] = _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, 1)));
    m[h] = m_new;
  }
}

}  // namespace

SoftmaxBlockFn SoftmaxBlockAvx2() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported ? SoftmaxBlockAvx2Impl : nullptr;
}

}  // namespace dsv4::kernels
