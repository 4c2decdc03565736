// AVX-512 fast-mode softmax block (kernels/softmax_block.h): 16 keys a vector, the
// reference's operations lane by lane, the lane sums reduced in the reference's pairs.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as pass-through operands, which
// its own -W(maybe-)uninitialized then reports inside the header (as in dot_avx512.cc).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>

#include "kernels/cpu/bf16_round_avx512.h"
#include "kernels/cpu/fast_exp_avx512.h"
#include "kernels/softmax_block.h"

namespace dsv4::kernels {
namespace {

// Lane l + 8 into l, then + 4, + 2, + 1.
inline float LaneSum(__m512 v) {
  const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, 1)));
}

inline __mmask16 Lanes(int64_t left) { return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1); }

void SoftmaxBlockAvx512Impl(const float* scores, int64_t heads, int64_t n, float scale, float* m, float* p,
                            int64_t p_stride, float* alpha, float* sum, uint8_t* live) {
  const __m512 vscale = _mm512_set1_ps(scale), neg_inf = _mm512_set1_ps(-INFINITY);
  for (int64_t h = 0; h < heads; ++h) {
    const float* s = scores + h * n;
    float* ph = p + h * p_stride;
    __m512 mx = neg_inf;
    for (int64_t u = 0; u < n; u += 16) {
      const __mmask16 k = Lanes(n - u);
      mx = _mm512_max_ps(_mm512_mask_mul_ps(neg_inf, k, _mm512_maskz_loadu_ps(k, s + u), vscale), mx);
    }
    const float block_max = _mm512_reduce_max_ps(mx);
    float m_new;
    if (!SoftmaxHeadStart(block_max, &m[h], ph, p_stride, &alpha[h], &live[h], &m_new)) continue;
    const __m512 vm = _mm512_set1_ps(m_new);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t u = 0; u < n; u += 16) {
      const __mmask16 k = Lanes(n - u);
      const __m512 z = _mm512_mask_mul_ps(neg_inf, k, _mm512_maskz_loadu_ps(k, s + u), vscale);
      const __m512 e = FastExp16(_mm512_sub_ps(z, vm));
      acc = _mm512_add_ps(acc, e);
      _mm512_mask_storeu_ps(ph + u, k, RoundBf16x16(e));
    }
    sum[h] = LaneSum(acc);
    m[h] = m_new;
  }
}

}  // namespace

SoftmaxBlockFn SoftmaxBlockAvx512() {
  static const bool supported = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
  return supported ? SoftmaxBlockAvx512Impl : nullptr;
}

}  // namespace dsv4::kernels
