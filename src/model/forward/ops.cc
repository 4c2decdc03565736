#include "model/forward/ops.h"

#include <algorithm>
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

// Σ RoundBf16(q[i]²) in double, with the bits of the sum taken in order. The terms are
// bf16 values (8 significant bits): when the nonzero ones lie within a factor 2^44 / n of
// each other, all are multiples of the smallest one's unit and every partial sum stays
// under 2^53 of those units, so every addition is exact in any order; eight running sums
// then (the in-order sum's chain of dependent adds was most of a query head's rescale:
// ~2% of a 512-token prefill chunk). Otherwise (or with an inf or NaN) the terms go in
// order. Vectorised with the dynamic cost model (-O2's cheapest one leaves it scalar).
__attribute__((optimize("vect-cost-model=dynamic"))) double SumOfBf16Squares(const float* q, int64_t n) {
  constexpr int64_t kMaxTerms = 1024;
  alignas(64) float t[kMaxTerms];
  if (n > kMaxTerms) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += double(RoundBf16(q[i] * q[i]));
    return sum;
  }
  float hi = 0.0f, lo = INFINITY;
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    const float v = RoundBf16(q[i] * q[i]);
    t[i] = v;
    hi = v > hi ? v : hi;
    lo = v > 0.0f && v < lo ? v : lo;
    nan |= v != v;
  }
  double sum = 0.0;
  if (nan || hi == INFINITY || double(n) * double(hi) > double(lo) * 0x1p44) {
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

namespace {

// y = bf16(round(clamp(x / s, ±max)) · s) per block, s a power-of-two block scale.
template <float (*Scale)(float), float (*Round)(float)>
void SimulateBlocks(float* x, int64_t n, int64_t block, float max) {
  DSV4_CHECK(n % block == 0);
  for (int64_t b = 0; b < n; b += block) {
    float amax = 0.0f;
    for (int64_t i = 0; i < block; ++i) amax = std::max(amax, std::fabs(x[b + i]));
    const float s = Scale(amax);
    for (int64_t i = 0; i < block; ++i) {
      x[b + i] = RoundBf16(Round(std::clamp(x[b + i] / s, -max, max)) * s);
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
  std::vector<double> v(x, x + n);
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
