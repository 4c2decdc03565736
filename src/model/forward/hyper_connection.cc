#include "model/forward/hyper_connection.h"

#include <algorithm>
#include <cmath>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/hc_mix.h"
#include "kernels/linear.h"
#include "model/forward/ops.h"

namespace dsv4 {
namespace {

// mixes: [T, rows] = (F · x_t) · rsqrt(mean(x_t²) + eps), all fp32, into the calling
// thread's buffer (kept from call to call: no heap allocation per step); valid until the
// next Mixes on this thread.
const std::vector<float>& Mixes(const float* x, int64_t T, const WeightMatrix& fn, float eps) {
  const int64_t width = fn.cols;
  thread_local std::vector<float> mixes_buffer;
  std::vector<float>& mixes = ReuseBuffer(mixes_buffer, size_t(T * fn.rows));  // (a reference: see below)
  kernels::Linear(x, T, fn, mixes.data(), {.act_quant = false, .round_bf16 = false});
  ParallelFor(size_t(T), 8, [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      const float r = Rsqrt32(MeanSquare(x + t * size_t(width), width) + eps);
      for (int64_t m = 0; m < fn.rows; ++m) mixes[t * size_t(fn.rows) + size_t(m)] *= r;
    }
  });
  return mixes;
}

}  // namespace

void SinkhornNormalize(float* comb, int64_t hc, int64_t iters, float eps) {
  // Sums accumulate in double and round once, as the reference's.
  auto row_sum = [&](int64_t j) {
    double s = 0.0;
    for (int64_t k = 0; k < hc; ++k) s += comb[j * hc + k];
    return float(s);
  };
  auto row_normalize = [&] {
    for (int64_t j = 0; j < hc; ++j) {
      const float s = row_sum(j) + eps;
      for (int64_t k = 0; k < hc; ++k) comb[j * hc + k] /= s;
    }
  };
  auto col_normalize = [&] {
    for (int64_t k = 0; k < hc; ++k) {
      double s = 0.0;
      for (int64_t j = 0; j < hc; ++j) s += comb[j * hc + k];
      const float sf = float(s) + eps;
      for (int64_t j = 0; j < hc; ++j) comb[j * hc + k] /= sf;
    }
  };
  // One row softmax (+eps), one column normalisation, then iters-1 (row, column) pairs.
  for (int64_t j = 0; j < hc; ++j) {
    float* row = comb + j * hc;
    float m = *std::max_element(row, row + hc);
    for (int64_t k = 0; k < hc; ++k) row[k] = Exp32(row[k] - m);
    const float s = row_sum(j);
    for (int64_t k = 0; k < hc; ++k) row[k] = row[k] / s + eps;
  }
  col_normalize();
  for (int64_t i = 0; i < iters - 1; ++i) {
    row_normalize();
    col_normalize();
  }
}

void HcPre(const float* x, int64_t T, const HcMixerWeights& w, const ModelConfig& c, float* y,
           HcMix* mix) {
  const int64_t hc = c.hc_mult, D = c.hidden_size, nmix = (2 + hc) * hc;
  const float hc_eps = float(c.hc_eps);
  // (A reference: in the worker lambdas a thread_local's name is the worker's own.)
  const std::vector<float>& mixes = Mixes(x, T, w.fn, float(c.rms_norm_eps));
  mix->post.resize(size_t(T * hc));
  mix->comb.resize(size_t(T * hc * hc));
  const kernels::HcSumRowFn sum_row = kernels::ActiveHcSumRow();
  // Tokens are independent: split them over the pool (a prefill chunk has hundreds).
  ParallelFor(size_t(T), 1, [&](size_t t0, size_t t1) {
    thread_local std::vector<float> pre;
    pre.resize(static_cast<size_t>(hc));
    for (int64_t t = int64_t(t0); t < int64_t(t1); ++t) {
      const float* mt = &mixes[size_t(t * nmix)];
      for (int64_t j = 0; j < hc; ++j) {
        pre[size_t(j)] = Sigmoid32(mt[j] * w.scale[0] + w.base[size_t(j)]) + hc_eps;
        mix->post[size_t(t * hc + j)] = 2.0f * Sigmoid32(mt[hc + j] * w.scale[1] + w.base[size_t(hc + j)]);
      }
      float* comb = &mix->comb[size_t(t * hc * hc)];
      for (int64_t i = 0; i < hc * hc; ++i) comb[i] = mt[2 * hc + i] * w.scale[2] + w.base[size_t(2 * hc + i)];
      SinkhornNormalize(comb, hc, c.hc_sinkhorn_iters, hc_eps);
      sum_row(x + t * hc * D, pre.data(), hc, D, y + t * D);
    }
  });
}

void HcPost(const float* f, const float* x, int64_t T, const HcMix& mix, const ModelConfig& c,
            float* out) {
  const int64_t hc = c.hc_mult, D = c.hidden_size;
  // Token t reads only its own x row, so tokens split over the pool even when out == x
  // (each token's new row is built aside, then stored).
  const kernels::HcPostRowFn post_row = kernels::ActiveHcPostRow();
  ParallelFor(size_t(T), 1, [&](size_t t0, size_t t1) {
    thread_local std::vector<float> row;
    row.resize(size_t(hc * D));
    for (int64_t t = int64_t(t0); t < int64_t(t1); ++t) {
      post_row(f + t * D, x + t * hc * D, &mix.comb[size_t(t * hc * hc)], &mix.post[size_t(t * hc)], hc, D,
               row.data());
      std::copy(row.begin(), row.end(), out + t * hc * D);
    }
  });
}

void HcHead(const float* x, int64_t T, const HcHeadWeights& w, const ModelConfig& c, float* y) {
  const int64_t hc = c.hc_mult, D = c.hidden_size;
  const std::vector<float>& mixes = Mixes(x, T, w.fn, float(c.rms_norm_eps));
  const kernels::HcSumRowFn sum_row = kernels::ActiveHcSumRow();
  // Tokens over the pool: at batch 16 this was ~0.45 ms of the engine thread alone per
  // step (perf).
  ParallelFor(size_t(T), 2, [&](size_t t0, size_t t1) {
    thread_local std::vector<float> pre;  // each thread's own
    pre.resize(static_cast<size_t>(hc));
    for (int64_t t = int64_t(t0); t < int64_t(t1); ++t) {
      for (int64_t j = 0; j < hc; ++j) {
        pre[size_t(j)] = Sigmoid32(mixes[size_t(t * hc + j)] * w.scale[0] + w.base[size_t(j)]) +
                         float(c.hc_eps);
      }
      sum_row(x + t * hc * D, pre.data(), hc, D, y + t * D);
    }
  });
}

}  // namespace dsv4
