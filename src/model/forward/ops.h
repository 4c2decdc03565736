// Small per-row operations of the V4 forward, each reproducing the reference's
// rounding points (spec §2, §6). Vectors hold fp32 values; "bf16 out" means every
// output value is rounded to the nearest bf16 before it is stored.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"

namespace dsv4 {

// `v` (a thread_local buffer of a forward function) resized to n and returned: kept from
// call to call, so a stream of same-sized chunks neither allocates nor zero-fills. The
// contents are not cleared (callers write every element before reading it): fresh zeroed
// vectors cost ~15% of a 512-token V4-Flash prefill in memset and page faults (the query
// and output buffers of one attention call are 67 MB each).
template <typename T>
std::vector<T>& ReuseBuffer(std::vector<T>& v, size_t n) {
  v.resize(n);
  return v;
}

// mean(x²): fp32 squares summed in double, times fp32(1/n) (the reference's mean).
float MeanSquare(const float* x, int64_t n);

// y[n] = bf16(w[n] * x[n] * rsqrt(mean(x²) + eps)), fp32 math (spec §2.6). In place allowed.
void RmsNorm(const float* x, const float* w, int64_t n, float eps, float* y);

// RmsNorm of `rows` rows of n values (row r at x + r * n, y + r * n), rows split over the
// pool: a prefill chunk's 512 rows of 4096 took the engine thread alone ~1% of the chunk.
void RmsNormRows(const float* x, const float* w, int64_t rows, int64_t n, float eps, float* y);

// Per-head query rescale in bf16 tensor arithmetic (spec §6.2 step 3), in place.
void RescaleHeadBf16(float* q, int64_t n, float eps);
// Σ RoundBf16(q[i]²) in double with the bits of the in-order sum (RescaleHeadBf16's).
double SumOfBf16Squares(const float* q, int64_t n);

// Most interleaved RoPE pairs a table has (V4: 32), for callers' stack arrays of angles.
constexpr int64_t kMaxRopePairs = 128;

// Rotary embedding tables of one layer kind (spec §6.4): inverse frequencies for the
// rope_dim/2 interleaved pairs, with optional YaRN interpolation.
class RopeTable {
 public:
  RopeTable() = default;
  RopeTable(int64_t rope_dim, double base, double factor, int64_t original_max_pos,
            double beta_fast, double beta_slow);
  // Rotates the interleaved pairs of v[0:rope_dim] by the angles of `pos` (inverse: by
  // minus them) in fp32 and rounds to bf16, in place.
  void Apply(float* v, int64_t pos, bool inverse) const;
  // Apply in two parts, so rows with many heads compute the angles once: Angles writes
  // the rope_dim / 2 fp32 cos / sin of `pos` (exactly as Apply computes them),
  // ApplyAngles rotates v by them. Apply(v, pos, inv) == Angles + ApplyAngles, bit for bit.
  void Angles(int64_t pos, float* cos, float* sin) const;
  void ApplyAngles(float* v, const float* cos, const float* sin, bool inverse) const;
  int64_t rope_dim() const { return rope_dim_; }
  const std::vector<float>& freqs() const { return freqs_; }

 private:
  int64_t rope_dim_ = 0;
  std::vector<float> freqs_;
};

// Calls head_fn(i, cos, sin) on the pool for every query head i of positions.size() rows x
// `heads` heads (head i belongs to row i / heads), with the RoPE angles of that row's
// position, computed once per row and chunk rather than per head.
template <typename HeadFn>
void ForEachHeadWithAngles(const RopeTable& rope, const std::vector<int64_t>& positions, int64_t heads,
                           HeadFn&& head_fn) {
  ParallelFor(positions.size() * size_t(heads), 8, [&](size_t i0, size_t i1) {
    float cos[kMaxRopePairs], sin[kMaxRopePairs];
    size_t angles_of = SIZE_MAX;  // the row whose angles cos / sin hold
    for (size_t i = i0; i < i1; ++i) {
      const size_t row = i / size_t(heads);
      if (row != angles_of) rope.Angles(positions[row], cos, sin), angles_of = row;
      head_fn(i, cos, sin);
    }
  });
}

// Block quantise–dequantise simulations (spec §2.4), in place on bf16-valued data:
// Q8_B (e4m3 codes, power-of-two scales) and Q4_B (e2m1 codes). n % block == 0.
void SimulateFp8Blocks(float* x, int64_t n, int64_t block);
void SimulateFp4Blocks(float* x, int64_t n, int64_t block);
// max |x[i]| over the non-NaN values (0 for none): the fold of std::max(amax, |x[i]|) that
// block scales start from.
float AbsMax(const float* x, int64_t n);

// x <- bf16(H_n · x · n^-1/2) with H_n the Sylvester Walsh–Hadamard matrix (n a power of 2).
void HadamardBf16(float* x, int64_t n);

// Elementwise transcendentals evaluated in double and rounded once to fp32: the
// correctly rounded value in all but rare cases, which any implementation (and our
// reference) can reproduce.
inline float Exp32(float x) { return float(std::exp(double(x))); }
inline float Rsqrt32(float x) { return float(1.0 / std::sqrt(double(x))); }
inline float Sigmoid32(float x) { return float(1.0 / (1.0 + std::exp(-double(x)))); }
inline float Silu32(float x) { return float(double(x) / (1.0 + std::exp(-double(x)))); }
// torch softplus (beta 1, threshold 20).
inline float Softplus32(float x) {
  return x > 20.0f ? x : float(std::log1p(std::exp(double(x))));
}

}  // namespace dsv4
