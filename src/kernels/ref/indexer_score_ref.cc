// Scalar reference of the FP4 indexer score: the definition the AVX2 kernel must match.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/dtype.h"
#include "kernels/indexer_score.h"

namespace dsv4::kernels {

void IndexerScoreFp4Ref(const Fp4IndexQuery& q, const uint8_t* codes, const uint8_t* scales,
                        int64_t n, float* scores) {
  const int64_t dim = q.dim, blocks = dim / 32;
  thread_local std::vector<int32_t> k;  // kept per thread: no heap allocation per call
  k.resize(static_cast<size_t>(dim));
  for (int64_t j = 0; j < n; ++j) {
    const uint8_t* cj = codes + j * dim / 2;
    for (int64_t i = 0; i < dim; ++i) {
      const uint8_t nib = (i & 1) ? uint8_t(cj[i / 2] >> 4) : uint8_t(cj[i / 2] & 15);
      k[size_t(i)] = int32_t(2.0f * E2m1ToFloat(nib));
    }
    double total = 0.0;
    for (int64_t h = 0; h < q.heads; ++h) {
      const int8_t* qh = &q.values[size_t(h * dim)];
      double dot = 0.0;  // exact: integer block sums times powers of two
      for (int64_t b = 0; b < blocks; ++b) {
        int32_t s = 0;
        for (int64_t i = b * 32; i < b * 32 + 32; ++i) s += int32_t(qh[i]) * k[size_t(i)];
        const int e = q.exps[size_t(h * blocks + b)] + int(scales[j * blocks + b]) - 127 - 2;
        dot += std::ldexp(double(s), e);
      }
      const float d = std::max(RoundBf16(float(dot)), 0.0f);
      total += RoundBf16(d * q.weights[size_t(h)]);
    }
    scores[j] = RoundBf16(float(total));
  }
}

}  // namespace dsv4::kernels
