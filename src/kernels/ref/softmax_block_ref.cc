// Scalar reference of the fast mode's softmax block (kernels/softmax_block.h).
#include <cmath>

#include "core/dtype.h"
#include "kernels/fast_exp.h"
#include "kernels/softmax_block.h"

namespace dsv4::kernels {

namespace {

// The 16 lanes' sums pairwise, as the SIMD reductions: l + 8 into l, then + 4, + 2, + 1.
float SoftmaxLaneSum(float* lanes) {
  for (int half = 8; half >= 1; half /= 2) {
    for (int l = 0; l < half; ++l) lanes[l] = lanes[l] + lanes[l + half];
  }
  return lanes[0];
}

}  // namespace

bool SoftmaxHeadStart(float block_max, const float* m, float* p_row, int64_t p_stride, float* alpha, uint8_t* live,
                      float* m_new) {
  *m_new = block_max > *m ? block_max : *m;
  *live = *m_new != -INFINITY;
  if (!*live) {
    for (int64_t u = 0; u < p_stride; ++u) p_row[u] = 0.0f;
    return false;
  }
  *alpha = FastExp(*m - *m_new);
  return true;
}

void SoftmaxBlockRef(const float* scores, int64_t heads, int64_t n, float scale, float* m, float* p,
                     int64_t p_stride, float* alpha, float* sum, uint8_t* live) {
  for (int64_t h = 0; h < heads; ++h) {
    const float* s = scores + h * n;
    float* ph = p + h * p_stride;
    float mx = -INFINITY;
    for (int64_t u = 0; u < n; ++u) {
      const float z = s[u] * scale;
      mx = z > mx ? z : mx;  // as vmaxps(z, mx)
    }
    float m_new;
    if (!SoftmaxHeadStart(mx, &m[h], ph, p_stride, &alpha[h], &live[h], &m_new)) continue;
    float lanes[16] = {};
    for (int64_t u = 0; u < n; ++u) {
      const float e = FastExp(s[u] * scale - m_new);
      lanes[u % 16] += e;
      ph[u] = RoundBf16(e);
    }
    sum[h] = SoftmaxLaneSum(lanes);
    m[h] = m_new;
  }
}

}  // namespace dsv4::kernels
