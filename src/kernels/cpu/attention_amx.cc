// Attention products on AMX tiles (kernels/attention_pv.h, AttentionPvTileAmx); compiled
// for AMX-BF16 and the AVX-512 extensions of its packing.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as pass-through operands, which
// its own -W(maybe-)uninitialized then reports inside the header (as in dot_avx512.cc).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/aligned_vector.h"
#include "kernels/attention_pv.h"
#include "kernels/cpu/amx_tiles.h"
#include "kernels/linear_amx.h"

namespace dsv4::kernels {
namespace {

constexpr int64_t kTile = 16;      // heads per A tile, dimensions per C tile, key pairs per B tile
constexpr int64_t kKeyStep = 32;   // keys per tile product
constexpr int64_t kColumnTiles = 4;  // C tiles (tmm4-7) per pass: 64 dimensions

// Word indices for vpermt2w: lo interleaves words 0..15 of a and b (a0 b0 a1 b1 ...), hi
// words 16..31.
struct PairIndices {
  __m512i lo, hi;
  PairIndices() {
    alignas(64) uint16_t l[32], h[32];
    for (int m = 0; m < 16; ++m) {
      l[2 * m] = uint16_t(m);
      l[2 * m + 1] = uint16_t(32 + m);
      h[2 * m] = uint16_t(16 + m);
      h[2 * m + 1] = uint16_t(48 + m);
    }
    lo = _mm512_load_si512(l);
    hi = _mm512_load_si512(h);
  }
};

// Step s (keys 32s..32s+31) of C += A(heads tile) x B(dims), for the four C tiles; the A
// and B registers alternate so that a load never waits on a product still reading one.
template <int kA>
inline void PvStep(const uint16_t* a, int64_t a_stride, const uint32_t* b, int64_t b_stride) {
  Tmm<kA>::Load(a, a_stride);
  Unroll<kColumnTiles>([&](auto q) {
    constexpr int kQ = decltype(q)::value, kB = 2 + kQ % 2;
    Tmm<kB>::Load(b + kQ * kTile, b_stride);
    Tmm<4 + kQ>::template Dp<kA, kB>();
  });
}

void AttentionPvTileAmxImpl(const float* p, int64_t p_stride, int64_t heads, const uint16_t* const* v,
                            int64_t n, int64_t d, float* out) {
  if (d % (kTile * kColumnTiles) != 0 || n == 0 || heads == 0) {
    return AttentionPvTileRef(p, p_stride, heads, v, n, d, out);  // shapes the passes do not cover
  }
  const int64_t steps = (n + kKeyStep - 1) / kKeyStep, n_pad = steps * kKeyStep;
  const int64_t heads_pad = (heads + kTile - 1) / kTile * kTile;
  thread_local AlignedVector<uint16_t> a_buf, zero_row;
  thread_local AlignedVector<uint32_t> b_buf;
  // A: the probabilities as bf16 (they are bf16 values: their high words), zero-padded to
  // 16-head tiles and 32-key steps.
  a_buf.assign(size_t(heads_pad * n_pad), 0);
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t u = 0; u < n; u += 16) {
      const __mmask16 k = n - u >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - u)) - 1);
      const __m512i x = _mm512_castps_si512(_mm512_maskz_loadu_ps(k, p + h * p_stride + u));
      _mm256_mask_storeu_epi16(a_buf.data() + h * n_pad + u, k, _mm512_cvtepi32_epi16(_mm512_srli_epi32(x, 16)));
    }
  }
  // B: per step, 16 rows of key pairs: row j holds (v[2j][i], v[2j + 1][i]) as dword i.
  if (int64_t(zero_row.size()) < d) zero_row.assign(size_t(d), 0);
  b_buf.resize(size_t(steps * kTile * d));
  static const PairIndices pairs;
  for (int64_t s = 0; s < steps; ++s) {
    for (int64_t j = 0; j < kTile; ++j) {
      const int64_t u = s * kKeyStep + 2 * j;
      const uint16_t* r0 = u < n ? v[u] : zero_row.data();
      const uint16_t* r1 = u + 1 < n ? v[u + 1] : zero_row.data();
      uint32_t* row = b_buf.data() + (s * kTile + j) * d;
      for (int64_t i = 0; i < d; i += 32) {
        const __m512i x0 = _mm512_loadu_si512(r0 + i), x1 = _mm512_loadu_si512(r1 + i);
        _mm512_storeu_si512(row + i, _mm512_permutex2var_epi16(x0, pairs.lo, x1));
        _mm512_storeu_si512(row + i + 16, _mm512_permutex2var_epi16(x0, pairs.hi, x1));
      }
    }
  }
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.rows[t] = uint8_t(kTile);
    config.colsb[t] = 64;
  }
  UseConfig(config);
  alignas(64) float c_out[kTile * kTile];
  const int64_t a_stride = n_pad * 2, b_stride = d * 4;
  for (int64_t h0 = 0; h0 < heads_pad; h0 += kTile) {
    const int64_t rows = std::min(kTile, heads - h0);
    for (int64_t i0 = 0; i0 < d; i0 += kTile * kColumnTiles) {
      Unroll<kColumnTiles>([&](auto q) { Tmm<4 + decltype(q)::value>::Zero(); });
      for (int64_t s = 0; s < steps; ++s) {
        const uint16_t* a = a_buf.data() + h0 * n_pad + s * kKeyStep;
        const uint32_t* b = b_buf.data() + s * kTile * d + i0;
        if (s % 2 == 0) {
          PvStep<0>(a, a_stride, b, b_stride);
        } else {
          PvStep<1>(a, a_stride, b, b_stride);
        }
      }
      Unroll<kColumnTiles>([&](auto q) {
        constexpr int kQ = decltype(q)::value;
        float* o = out + h0 * d + i0 + kQ * kTile;
        if (rows == kTile) {
          Tmm<4 + kQ>::Store(o, d * 4);
        } else {
          Tmm<4 + kQ>::Store(c_out, kTile * 4);
          for (int64_t r = 0; r < rows; ++r) std::memcpy(o + r * d, c_out + r * kTile, kTile * sizeof(float));
        }
      });
    }
  }
}

}  // namespace

AttentionPvF32Fn AttentionPvTileAmx() { return AmxActive() ? AttentionPvTileAmxImpl : nullptr; }

}  // namespace dsv4::kernels
