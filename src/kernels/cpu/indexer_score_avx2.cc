// AVX2 FP4 indexer score (this file alone is compiled with -mavx2 -mfma). Bit-identical
// to IndexerScoreFp4Ref: per head and 32-block, an exact integer dot product of the
// 2·e2m1 values (pshufb decode of the key nibbles, maddubs with |q| and the key negated
// where q is negative, madd to int32), then the block sums times their power-of-two
// scales added in double (exact), rounded to fp32 once. Four keys at a time: the key
// nibbles are decoded once and reused by every head.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/indexer_score.h"

namespace dsv4::kernels {
namespace {

constexpr int kKeys = 4;  // keys per group

// Rounds 4 finite fp32 values to bf16 (RNE), kept as fp32.
inline __m128 RoundBf16x4(__m128 x) {
  __m128i u = _mm_castps_si128(x);
  const __m128i lsb = _mm_and_si128(_mm_srli_epi32(u, 16), _mm_set1_epi32(1));
  u = _mm_add_epi32(u, _mm_add_epi32(_mm_set1_epi32(0x7fff), lsb));
  return _mm_castsi128_ps(_mm_and_si128(u, _mm_set1_epi32(int(0xffff0000u))));
}

// 2^e as a double for e in the normal range.
inline double Pow2(int e) {
  const uint64_t bits = uint64_t(e + 1023) << 52;
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

void IndexerScoreFp4Avx2Impl(const Fp4IndexQuery& q, const uint8_t* codes, const uint8_t* scales,
                             int64_t n, float* scores) {
  const int64_t dim = q.dim, H = q.heads, pairs = dim / 64, blocks = dim / 32, row = dim / 2;
  // Query in the key's nibble order: for each 64-dim pair, the even elements (low
  // nibbles) then the odd ones (high nibbles); |q| and sign separately for maddubs.
  // (Buffers kept per thread, every element written before it is read: no heap
  // allocation per call.)
  thread_local std::vector<int8_t> qa, qs, kx;
  thread_local std::vector<double> qf, kf;
  qa.resize(size_t(H * dim));
  qs.resize(size_t(H * dim));
  qf.resize(size_t(H * blocks));
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t p = 0; p < pairs; ++p) {
      for (int64_t i = 0; i < 32; ++i) {
        for (int64_t half = 0; half < 2; ++half) {
          const int8_t v = q.values[size_t(h * dim + 64 * p + 2 * i + half)];
          const size_t at = size_t(h * dim + 64 * p + 32 * half + i);
          qa[at] = int8_t(v < 0 ? -v : v);
          qs[at] = v;
        }
      }
    }
    // q scale, and the /4 of the two doubled operands (keys add their 2^(e-127) below).
    for (int64_t b = 0; b < blocks; ++b) qf[size_t(h * blocks + b)] = Pow2(q.exps[size_t(h * blocks + b)] - 2);
  }

  const __m256i lut = _mm256_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12,
                                       0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
  const __m256i nib = _mm256_set1_epi8(0x0f);
  const __m256i ones = _mm256_set1_epi16(1);
  // Decoded keys of one group: [key][pair][lo, hi][32] int8.
  kx.resize(static_cast<size_t>(kKeys * pairs * 2 * 32));
  // Key scales of one group: [block][key] as doubles 2^(e-127).
  kf.resize(static_cast<size_t>(blocks * kKeys));
  auto kx_at = [&](int64_t k, int64_t p, int64_t half) { return &kx[size_t(((k * pairs + p) * 2 + half) * 32)]; };
  KeyGroups groups_of_keys(codes, scales, n, dim, kKeys);

  for (int64_t j0 = 0; j0 < n; j0 += kKeys) {
    const uint8_t* c = nullptr;
    const uint8_t* s = nullptr;
    const int64_t valid = groups_of_keys.At(j0, &c, &s);
    for (int64_t k = 0; k < kKeys; ++k) {
      for (int64_t p = 0; p < pairs; ++p) {
        const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + k * row + 32 * p));
        const __m256i lo = _mm256_and_si256(raw, nib);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nib);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(kx_at(k, p, 0)), _mm256_shuffle_epi8(lut, lo));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(kx_at(k, p, 1)), _mm256_shuffle_epi8(lut, hi));
      }
    }
    for (int64_t b = 0; b < blocks; ++b) {
      for (int64_t k = 0; k < kKeys; ++k) kf[size_t(b * kKeys + k)] = Pow2(int(s[k * blocks + b]) - 127);
    }
    __m256d total = _mm256_setzero_pd();
    for (int64_t h = 0; h < H; ++h) {
      __m256d acc = _mm256_setzero_pd();
      for (int64_t p = 0; p < pairs; ++p) {
        const int8_t* qah = &qa[size_t(h * dim + 64 * p)];
        const int8_t* qsh = &qs[size_t(h * dim + 64 * p)];
        const __m256i qa_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qah));
        const __m256i qa_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qah + 32));
        const __m256i qs_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qsh));
        const __m256i qs_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qsh + 32));
        __m256i v[kKeys];
        for (int k = 0; k < kKeys; ++k) {
          const __m256i klo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kx_at(k, p, 0)));
          const __m256i khi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kx_at(k, p, 1)));
          const __m256i prod = _mm256_add_epi16(_mm256_maddubs_epi16(qa_lo, _mm256_sign_epi8(klo, qs_lo)),
                                                _mm256_maddubs_epi16(qa_hi, _mm256_sign_epi8(khi, qs_hi)));
          v[k] = _mm256_madd_epi16(prod, ones);  // lanes 0-3: block 2p, 4-7: block 2p+1
        }
        // lanes 0-3: block 2p of keys 0-3; lanes 4-7: block 2p+1 of keys 0-3.
        const __m256i r = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
        const __m256d f0 = _mm256_mul_pd(_mm256_loadu_pd(&kf[size_t(2 * p * kKeys)]),
                                         _mm256_set1_pd(qf[size_t(h * blocks + 2 * p)]));
        const __m256d f1 = _mm256_mul_pd(_mm256_loadu_pd(&kf[size_t((2 * p + 1) * kKeys)]),
                                         _mm256_set1_pd(qf[size_t(h * blocks + 2 * p + 1)]));
        acc = _mm256_add_pd(acc, _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(r)), f0));
        acc = _mm256_add_pd(acc, _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(r, 1)), f1));
      }
      __m128 d = _mm_max_ps(RoundBf16x4(_mm256_cvtpd_ps(acc)), _mm_setzero_ps());
      d = RoundBf16x4(_mm_mul_ps(d, _mm_set1_ps(q.weights[size_t(h)])));
      total = _mm256_add_pd(total, _mm256_cvtps_pd(d));
    }
    alignas(16) float out[kKeys];
    _mm_store_ps(out, RoundBf16x4(_mm256_cvtpd_ps(total)));
    std::memcpy(scores + j0, out, size_t(valid) * sizeof(float));
  }
}

}  // namespace

IndexerScoreFn IndexerScoreFp4Avx2() {
  static const bool supported = __builtin_cpu_supports("avx2");
  return supported ? IndexerScoreFp4Avx2Impl : nullptr;
}

}  // namespace dsv4::kernels
