// Attention products on AMX tiles (kernels/attention_pv.h, AttentionPvTileAmx;
// kernels/attention_scores.h, NewTileScoresAmx); compiled for AMX-BF16 and the AVX-512
// extensions of their packing.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as pass-through operands, which
// its own -W(maybe-)uninitialized then reports inside the header (as in dot_avx512.cc).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "core/aligned_vector.h"
#include "kernels/attention_pv.h"
#include "kernels/attention_scores.h"
#include "kernels/cpu/amx_tiles.h"
#include "kernels/cpu/transpose_avx512.h"
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

const TileConfig& SquareTiles();

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
  UseConfig(SquareTiles());
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

// All eight tile registers 16 rows of 64 bytes: A (tmm0-1) 16 x 32 bf16, B (tmm2-3) 16
// pairs x 16 columns, C (tmm4-7) 16 x 16 fp32.
const TileConfig& SquareTiles() {
  static const TileConfig config = [] {
    TileConfig c;
    for (int t = 0; t < 8; ++t) {
      c.rows[t] = uint8_t(kTile);
      c.colsb[t] = 64;
    }
    return c;
  }();
  return config;
}

// Scores: C (16 keys x 16 heads) += A (16 key rows x 32 values) x B (16 value pairs x 16
// heads: the query's tile for that step and head tile), over the d / 32 steps in order.
class TileScoresAmx : public TileScores {
 public:
  void SetQuery(const float* q, int64_t heads, int64_t d) override {
    heads_ = heads;
    d_ = d;
    if (OnRef()) {  // (a shape the steps do not cover; made once and kept: no allocation per query)
      if (ref_ == nullptr) ref_ = NewTileScoresRef();
      ref_->SetQuery(q, heads, d);
      return;
    }
    head_tiles_ = (heads + kTile - 1) / kTile;
    steps_ = d / kKeyStep;
    // The query's values as bf16 pairs (dwords), rows past `heads` zero.
    const int64_t pairs = d / 2;
    query_.assign(size_t(head_tiles_ * kTile * pairs), 0);
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t k = 0; k < d; k += 32) {
        const __m512i x0 = _mm512_castps_si512(_mm512_loadu_ps(q + h * d + k));
        const __m512i x1 = _mm512_castps_si512(_mm512_loadu_ps(q + h * d + k + 16));
        const __m256i w0 = _mm512_cvtepi32_epi16(_mm512_srli_epi32(x0, 16));
        const __m256i w1 = _mm512_cvtepi32_epi16(_mm512_srli_epi32(x1, 16));
        _mm512_storeu_si512(query_.data() + h * pairs + k / 2, _mm512_inserti64x4(_mm512_castsi256_si512(w0), w1, 1));
      }
    }
    // B tile (step s, head tile t): row i = pair 16 s + i of the tile's 16 heads.
    b_.resize(size_t(steps_ * head_tiles_ * kTile * kTile));
    for (int64_t s = 0; s < steps_; ++s) {
      for (int64_t t = 0; t < head_tiles_; ++t) {
        __m512i r[16], o[16];
        for (int64_t h = 0; h < kTile; ++h) r[h] = _mm512_loadu_si512(query_.data() + (t * kTile + h) * pairs + s * kTile);
        Transpose16x16(r, o);
        uint32_t* tile = b_.data() + (s * head_tiles_ + t) * kTile * kTile;
        for (int64_t i = 0; i < kTile; ++i) _mm512_storeu_si512(tile + i * kTile, o[i]);
      }
    }
  }

  void Score(const uint16_t* const* keys, int64_t n, float* out) override {
    if (OnRef()) return ref_->Score(keys, n, out);
    if (n == 0 || heads_ == 0) return;
    const int64_t d = d_, key_tiles = (n + kTile - 1) / kTile;
    a_.resize(size_t(key_tiles * kTile * d));
    for (int64_t u = 0; u < key_tiles * kTile; ++u) {
      if (u < n) {
        std::memcpy(a_.data() + u * d, keys[u], size_t(d) * 2);
      } else {
        std::memset(a_.data() + u * d, 0, size_t(d) * 2);
      }
    }
    UseConfig(SquareTiles());
    for (int64_t kt = 0; kt < key_tiles; ++kt) {
      for (int64_t t0 = 0; t0 < head_tiles_; t0 += kColumnTiles) {
        switch (std::min<int64_t>(kColumnTiles, head_tiles_ - t0)) {
          case 1: Pass<1>(kt, t0, n, out); break;
          case 2: Pass<2>(kt, t0, n, out); break;
          case 3: Pass<3>(kt, t0, n, out); break;
          default: Pass<4>(kt, t0, n, out); break;
        }
      }
    }
  }

 private:
  // Key tile kt against head tiles t0..t0 + NT - 1 (C tiles 4..4 + NT - 1), then each C
  // tile transposed into out's head rows.
  template <int NT>
  void Pass(int64_t kt, int64_t t0, int64_t n, float* out) {
    Unroll<NT>([&](auto q) { Tmm<4 + decltype(q)::value>::Zero(); });
    const uint16_t* a = a_.data() + kt * kTile * d_;
    auto step = [&](int64_t s, auto parity) {
      constexpr int kA = decltype(parity)::value;
      Tmm<kA>::Load(a + s * kKeyStep, d_ * 2);
      Unroll<NT>([&](auto q) {
        constexpr int kQ = decltype(q)::value, kB = 2 + kQ % 2;
        Tmm<kB>::Load(b_.data() + (s * head_tiles_ + t0 + kQ) * kTile * kTile, kTile * 4);
        Tmm<4 + kQ>::template Dp<kA, kB>();
      });
    };
    int64_t s = 0;
    for (; s + 2 <= steps_; s += 2) {
      step(s, std::integral_constant<int, 0>{});
      step(s + 1, std::integral_constant<int, 1>{});
    }
    if (s < steps_) step(s, std::integral_constant<int, 0>{});
    const int64_t keys_here = std::min(kTile, n - kt * kTile);
    const __mmask16 lanes = __mmask16((1u << keys_here) - 1);
    Unroll<NT>([&](auto q) {
      constexpr int kQ = decltype(q)::value;
      alignas(64) float c[kTile * kTile];  // [key][head]
      Tmm<4 + kQ>::Store(c, kTile * 4);
      __m512i r[16], o[16];
      for (int64_t u = 0; u < kTile; ++u) r[u] = _mm512_load_si512(c + u * kTile);
      Transpose16x16(r, o);  // o[h] lane u = c[u][h]
      const int64_t h0 = (t0 + kQ) * kTile;
      for (int64_t h = 0; h < kTile && h0 + h < heads_; ++h) {
        _mm512_mask_storeu_ps(out + (h0 + h) * n + kt * kTile, lanes, _mm512_castsi512_ps(o[h]));
      }
    });
  }

  // The current query's head size is one the tiles' steps do not cover: it is on ref_.
  bool OnRef() const { return d_ % kKeyStep != 0; }
  std::unique_ptr<TileScores> ref_;  // the reference, for those shapes
  int64_t heads_ = 0, d_ = 0, head_tiles_ = 0, steps_ = 0;
  AlignedVector<uint32_t> query_, b_;
  AlignedVector<uint16_t> a_;
};

}  // namespace

std::unique_ptr<TileScores> NewTileScoresAmx() {
  return AmxActive() ? std::make_unique<TileScoresAmx>() : nullptr;
}

AttentionPvF32Fn AttentionPvTileAmx() { return AmxActive() ? AttentionPvTileAmxImpl : nullptr; }

}  // namespace dsv4::kernels
