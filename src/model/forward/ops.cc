#include "model/forward/ops.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "core/dtype.h"
#include "core/status.h"

namespace dsv4 {

float MeanSquare(const float* x, int64_t n) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i] * x[i]);
  return float(ss) * float(1.0 / double(n));
}

void RmsNorm(const float* x, const float* w, int64_t n, float eps, float* y) {
  const float r = Rsqrt32(MeanSquare(x, n) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = RoundBf16(w[i] * (x[i] * r));
}

void RmsNormRows(const float* x, const float* w, int64_t rows, int64_t n, float eps, float* y) {
  ParallelFor(size_t(rows), 16, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) RmsNorm(x + r * size_t(n), w, n, eps, y + r * size_t(n));
  });
}

namespace {

// t[i] = RoundBf16(q[i]²); *hi, *lo: the largest and the smallest nonzero term (+inf for
// none); true if one is an inf or NaN. On the magnitudes' bit patterns: integer selects
// vectorise, float ones with their NaN rules and bool flags did not.
__attribute__((optimize("vect-cost-model=dynamic"))) bool Bf16Squares(const float* __restrict q, int64_t n,
                                                                       float* __restrict t, float* hi, float* lo) {
  int32_t max = 0, min = 0x7F800000, non_finite = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = RoundBf16(q[i] * q[i]);
    t[i] = v;
    const int32_t u = std::bit_cast<int32_t>(v) & 0x7FFFFFFF;
    max = u > max ? u : max;
    non_finite |= u >= 0x7F800000 ? 1 : 0;
  }
  for (int64_t i = 0; i < n; ++i) {  // (in the loop above, GCC 12 vectorised neither)
    const int32_t u = std::bit_cast<int32_t>(t[i]) & 0x7FFFFFFF;
    const int32_t nonzero = u > 0 ? u : 0x7F800000;
    min = nonzero < min ? nonzero : min;
  }
  *hi = std::bit_cast<float>(max);
  *lo = std::bit_cast<float>(min);
  return non_finite != 0;
}

}  // namespace

// Σ RoundBf16(q[i]²) in double, with the bits of the sum taken in order. The terms are
// bf16 values (8 significant bits): when the nonzero ones lie within a factor 2^44 / n of
// each other, all are multiples of the smallest one's unit and every partial sum stays
// under 2^53 of those units, so every addition is exact in any order; eight running sums
// then (the in-order sum's chain of dependent adds was most of a query head's rescale:
// ~2% of a 512-token prefill chunk). Otherwise (or with an inf or NaN) the terms go in
// order.
__attribute__((optimize("vect-cost-model=dynamic"))) double SumOfBf16Squares(const float* q, int64_t n) {
  constexpr int64_t kMaxTerms = 1024;
  alignas(64) float t[kMaxTerms];
  double sum = 0.0;
  if (n > kMaxTerms) {
    for (int64_t i = 0; i < n; ++i) sum += double(RoundBf16(q[i] * q[i]));
    return sum;
  }
  float hi, lo;
  if (Bf16Squares(q, n, t, &hi, &lo) || double(n) * double(hi) > double(lo) * 0x1p44) {
    for (int64_t i = 0; i < n; ++i) sum += double(t[i]);
    return sum;
  }
  double part[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) part[j] += double(t[i + j]);
  }
  for (; i < n; ++i) part[0] += double(t[i]);
  for (double p : part) sum += p;
  return sum;
}

__attribute__((optimize("vect-cost-model=dynamic"))) void RescaleHeadBf16(float* q, int64_t n, float eps) {
  // torch: q *= rsqrt(q.square().mean(-1) + eps), every intermediate a bf16 tensor.
  const double sum = SumOfBf16Squares(q, n);
  float mean = RoundBf16(float(sum) * float(1.0 / double(n)));
  float denom = RoundBf16(mean + eps);
  float r = RoundBf16(Rsqrt32(denom));
  for (int64_t i = 0; i < n; ++i) q[i] = RoundBf16(q[i] * r);
}

RopeTable::RopeTable(int64_t rope_dim, double base, double factor, int64_t original_max_pos,
                     double beta_fast, double beta_slow)
    : rope_dim_(rope_dim) {
  const int64_t half = rope_dim / 2;
  DSV4_CHECK(half <= kMaxRopePairs);
  freqs_.resize(size_t(half));
  // fp32 as the reference: 1 / base ** (arange(0, dim, 2) / dim).
  for (int64_t i = 0; i < half; ++i) {
    float e = float(2 * i) / float(rope_dim);
    freqs_[size_t(i)] = 1.0f / float(std::pow(base, double(e)));
  }
  if (original_max_pos > 0) {
    auto corr_dim = [&](double rotations) {
      return double(rope_dim) * std::log(double(original_max_pos) / (rotations * 2 * M_PI)) /
             (2 * std::log(base));
    };
    double low = std::max(std::floor(corr_dim(beta_fast)), 0.0);
    double high = std::min(std::ceil(corr_dim(beta_slow)), double(rope_dim - 1));
    if (low == high) high += 0.001;
    for (int64_t i = 0; i < half; ++i) {
      float ramp = (float(i) - float(low)) / (float(high) - float(low));
      ramp = std::clamp(ramp, 0.0f, 1.0f);
      float smooth = 1.0f - ramp;
      float f = freqs_[size_t(i)];
      freqs_[size_t(i)] = f / float(factor) * (1.0f - smooth) + f * smooth;
    }
  }
}

void RopeTable::Angles(int64_t pos, float* cos, float* sin) const {
  const float p = float(pos);
  for (size_t i = 0; i < freqs_.size(); ++i) {
    const float angle = p * freqs_[i];
    cos[i] = float(std::cos(double(angle)));
    sin[i] = float(std::sin(double(angle)));
  }
}

void RopeTable::ApplyAngles(float* v, const float* cos, const float* sin, bool inverse) const {
  for (size_t i = 0; i < freqs_.size(); ++i) {
    const float c = cos[i], s = inverse ? -sin[i] : sin[i];
    const float a = v[2 * i], b = v[2 * i + 1];
    v[2 * i] = RoundBf16(a * c - b * s);
    v[2 * i + 1] = RoundBf16(a * s + b * c);
  }
}

void RopeTable::Apply(float* v, int64_t pos, bool inverse) const {
  float cos[kMaxRopePairs], sin[kMaxRopePairs];
  Angles(pos, cos, sin);
  ApplyAngles(v, cos, sin, inverse);
}

// On the magnitudes' bit patterns, whose integer order is the floats' (a max the
// vectoriser takes, which a float max with its NaN rules is not).
__attribute__((optimize("vect-cost-model=dynamic"))) float AbsMax(const float* x, int64_t n) {
  int32_t m = 0;  // (signed: SSE2 has no unsigned compares; the magnitudes are under 2^31)
  for (int64_t i = 0; i < n; ++i) {
    int32_t u = std::bit_cast<int32_t>(x[i]) & 0x7FFFFFFF;
    u = u > 0x7F800000 ? 0 : u;
    m = u > m ? u : m;
  }
  return std::bit_cast<float>(m);
}

namespace {

// y = bf16(round(clamp(x / s, ±max)) · s) per block, s a power-of-two block scale.
// Vectorised with the dynamic cost model (the FP4 one, with its branch-free RoundE2m1:
// the indexer's queries and compressed keys, ~1.7% of a 512-token prefill chunk scalar).
template <float (*Scale)(float), float (*Round)(float)>
__attribute__((optimize("vect-cost-model=dynamic"))) void SimulateBlocks(float* x, int64_t n, int64_t block,
                                                                          float max) {
  DSV4_CHECK(n % block == 0);
  for (int64_t b = 0; b < n; b += block) {
    const float amax = AbsMax(x + b, block);
    const float s = Scale(amax);
    for (int64_t i = 0; i < block; ++i) {
      float y = x[b + i] / s;  // std::clamp(y, -max, max) as selects (its branches stop the vectoriser)
      y = y < -max ? -max : y;
      y = max < y ? max : y;
      x[b + i] = RoundBf16(Round(y) * s);
    }
  }
}

}  // namespace

void SimulateFp8Blocks(float* x, int64_t n, int64_t block) {
  SimulateBlocks<Fp8Scale, RoundE4m3>(x, n, block, kFp8Max);
}

void SimulateFp4Blocks(float* x, int64_t n, int64_t block) {
  SimulateBlocks<Fp4Scale, RoundE2m1>(x, n, block, kFp4Max);
}

void HadamardBf16(float* x, int64_t n) {
  DSV4_CHECK(n > 0 && (n & (n - 1)) == 0);
  // Fast Walsh–Hadamard butterflies (natural / Sylvester order) in double: exact for
  // bf16 inputs at these sizes, like the reference's f64 matrix product.
  thread_local std::vector<double> v;  // kept per thread: no heap allocation per call
  v.assign(x, x + n);
  for (int64_t len = 1; len < n; len <<= 1) {
    for (int64_t i = 0; i < n; i += 2 * len) {
      for (int64_t j = i; j < i + len; ++j) {
        double a = v[size_t(j)], b = v[size_t(j + len)];
        v[size_t(j)] = a + b;
        v[size_t(j + len)] = a - b;
      }
    }
  }
  const float scale = float(std::pow(double(n), -0.5));
  for (int64_t i = 0; i < n; ++i) x[i] = RoundBf16(float(v[size_t(i)]) * scale);
}

}  // namespace dsv4
