// AVX2 fast-mode softmax block (kernels/softmax_block.h; compiled with -mavx2 -mfma): 16
// keys a step in two 8-lane halves (lanes 0-7, 8-15 of the reference's 16 lane sums), the
// reference's operations lane by lane.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/bf16_round_avx2.h"
#include "kernels/cpu/fast_exp_avx2.h"
#include "kernels/softmax_block.h"

namespace dsv4::kernels {
namespace {

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
    float m_new;
    if (!SoftmaxHeadStart(block_max, &m[h], ph, p_stride, &alpha[h], &live[h], &m_new)) continue;
    const __m256 vm = _mm256_set1_ps(m_new);
    __m256 acc_lo = _mm256_setzero_ps(), acc_hi = _mm256_setzero_ps();
    for (int64_t u = 0; u < n; u += 16) {
      __m256 lo, hi;
      ScaledStep(s, u, n, vscale, &lo, &hi);
      const __m256 e_lo = FastExp8(_mm256_sub_ps(lo, vm)), e_hi = FastExp8(_mm256_sub_ps(hi, vm));
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
