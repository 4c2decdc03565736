// AMX-BF16 products (kernels/linear_amx.h); this file alone is compiled for AMX and the
// AVX-512 extensions its weight decoders use.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as pass-through operands, which
// its own -W(maybe-)uninitialized then reports inside the header (as in dot_avx512.cc).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <utility>

#include "core/aligned_vector.h"
#include "core/dtype.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "kernels/bf16_row_blocks.h"
#include "kernels/cpu/amx_tiles.h"
#include "kernels/cpu/bf16_round_avx512.h"
#include "kernels/cpu/transpose_avx512.h"
#include "kernels/cpu/weight_decode_avx512.h"
#include "kernels/isa.h"
#include "kernels/linear_amx.h"
#include "kernels/tile_order.h"
#include "kernels/weight_streams.h"

namespace dsv4::kernels {
namespace {

using namespace avx512;  // the weight decoders (weight_decode_avx512.h)

constexpr int64_t kBlock = 128;    // FP8 weight block
constexpr int64_t kFp4Block = 32;  // FP4 scale block
// A decoded panel's rows are K + this many values apart: at K = 4096 rows 8 KiB apart put
// an A tile's 16 lines in one L1 set (12 ways), and every tile load missed.
constexpr int64_t kPanelPad = 32;

constexpr int64_t kRows = 16;      // weight rows per A tile (and per blocked-head block)
constexpr int64_t kTileK = 32;     // k values per tile step
// Each block's weights are fetched this far ahead of its tile loads (a block is a stream
// of its own: 16 lines per tile step).
constexpr int64_t kBlockPrefetchBytes = 4096;

// Linux hands out the AMX tile state (8 KiB per thread) only on request.
constexpr int kArchReqXcompPerm = 0x1023;
constexpr int kXfeatureXtiledata = 18;

bool AmxSupported() {
  static const bool ok = [] {
    const bool cpu = __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16") &&
                     __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                     __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                     __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vbmi");
    return cpu && syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return ok;
}

// ---- weight rows decoded to bf16 with their block scales folded in ----
// (the decoders and the scale-folding checks: weight_decode_avx512.h)

// Weight rows [r0, r0 + rows) decoded to bf16 with their scales folded in. `Unfolded`
// gives a bit per row whose scales do not fold (the caller leaves those rows to the SIMD
// kernels); `Chunk` writes k = k0..k0 + len - 1 (len a multiple of 128, at most
// kMaxChunk) of every row to out + m * out_stride in the packed order (rows that do not
// fold, and rows past `rows` up to `zero_rows`, as zeros), row by row. In tile order
// (kernels/tile_order.h) chunks are whole groups (kTileOrderGroup values: k0 and len
// multiples of it) and each group's 16 decoded vectors are stored transposed, dword l of
// every vector into tile step l.
constexpr int64_t kMaxChunk = 128;
int64_t ChunkLen(bool tile_order) { return tile_order ? kTileOrderGroup : kMaxChunk; }
// A group's 16 vectors v[0..15] (bf16 words) stored as its 16 tile steps of 32 words.
inline void StoreTileSteps(const __m512i* v, uint16_t* out) {
  __m512i steps[16];
  Transpose16x16(v, steps);
  for (int l = 0; l < 16; ++l) _mm512_storeu_si512(out + 32 * l, steps[l]);
}
// Each row's weights are fetched this many bytes ahead of its decode.
constexpr int64_t kPrefetchAhead = 512;
class E4m3Rows {
 public:
  E4m3Rows(const WeightMatrix& w, bool tile_order) : w_(w), nb_(w.cols / kBlock), tile_order_(tile_order) {}
  uint64_t Unfolded(int64_t r0, int rows) const {
    uint64_t bad = 0;
    int64_t checked_rb = -1;
    bool fold = true;
    for (int m = 0; m < rows; ++m) {
      const int64_t rb = (r0 + m) / kBlock;
      if (rb != checked_rb) fold = ScalesFold(w_.scale + rb * nb_, nb_, kE4m3ScaleMin, kE4m3ScaleMax);
      checked_rb = rb;
      if (!fold) bad |= uint64_t(1) << m;
    }
    return bad;
  }
  void Chunk(int64_t r0, int rows, int zero_rows, uint64_t bad, int64_t k0, int64_t len, uint16_t* out,
             int64_t out_stride) {
    const E4m3Tables& base = SharedE4m3Tables();
    static const E4m3Words& words = SharedE4m3Words();
    const int64_t K = w_.cols, kb0 = k0 / kBlock, nkb = len / kBlock;
    int64_t table_rb = -1;
    E4m3Tables tables[kTileOrderGroup / kBlock];
    for (int m = 0; m < zero_rows; ++m) {
      uint16_t* o = out + m * out_stride;
      if (m >= rows || (bad >> m) & 1) {
        std::memset(o, 0, size_t(len) * 2);
        continue;
      }
      const int64_t r = r0 + m, rb = r / kBlock;
      if (rb != table_rb) {  // the rows' 128 x 128 block scales (one table per block)
        for (int64_t b = 0; b < nkb; ++b) tables[b] = ScaledE4m3Tables(base, words, w_.scale[rb * nb_ + kb0 + b]);
        table_rb = rb;
      }
      const uint8_t* row = w_.data + r * K + k0;
      const bool realign = LineAlignedLoads::Pays(row, 0);
      const LineAlignedLoads lines(realign ? row : nullptr);
      __m512i group[16];  // tile order: a group's vectors V_0..V_15 (a, b of each 64 codes)
      for (int64_t b = 0; b < nkb; ++b) {
        const uint8_t* src = row + b * kBlock;
        _mm_prefetch(reinterpret_cast<const char*>(src) + kPrefetchAhead, _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(src) + kPrefetchAhead + 64, _MM_HINT_T0);
        __m512i c0, c1;
        if (realign) {
          lines.Load128(src, &c0, &c1);
        } else {
          c0 = _mm512_loadu_si512(src);
          c1 = _mm512_loadu_si512(src + 64);
        }
        __m512i* v = group + 4 * (b % 4);
        DecodeE4m3x64(tables[b], c0, &v[0], &v[1]);
        DecodeE4m3x64(tables[b], c1, &v[2], &v[3]);
        if (tile_order_) {
          if (b % 4 == 3) StoreTileSteps(group, o + (b - 3) * kBlock);
          continue;
        }
        for (int i = 0; i < 4; ++i) _mm512_storeu_si512(o + b * kBlock + 32 * i, v[i]);
      }
    }
  }

 private:
  const WeightMatrix& w_;
  const int64_t nb_;
  const bool tile_order_;
};

// FP4 in tile order: a group (512 values, 256 bytes, 16 scale blocks; V_p = block
// kE2m1TileBlock[p]) written as its 16 tile steps, step l = byte l of every V_p (two
// values each). Load q of the group holds blocks 4q..4q+3, one per 128-bit lane; 4 x 4
// dword transposes within the lanes give vector j whose dword 4L + q is dword j of block
// 4q + L = kE2m1TileBlock[4L + q] (hence that order). Step 4j + t then takes byte t of
// each dword: word 2p its low nibble, word 2p + 1 its high nibble (vpermw reads 5 index
// bits; the table holds its 16 values twice). 2 port-5 instructions per step, as the
// natural order; decoding V_p first and transposing dwords cost 5, and left the T = 8-16
// products waiting on it (FP4 [2048, 4096] T = 8 2.05-2.09 ms against 0.76-1.09).
class E2m1TileSteps {
 public:
  void Group(const uint8_t* bytes, const uint8_t* scales, __m512i table, uint16_t* out) const {
    const __m512i z0 = _mm512_loadu_si512(bytes), z1 = _mm512_loadu_si512(bytes + 64);
    const __m512i z2 = _mm512_loadu_si512(bytes + 128), z3 = _mm512_loadu_si512(bytes + 192);
    const __m512i t0 = _mm512_unpacklo_epi32(z0, z1), t1 = _mm512_unpackhi_epi32(z0, z1);
    const __m512i t2 = _mm512_unpacklo_epi32(z2, z3), t3 = _mm512_unpackhi_epi32(z2, z3);
    const __m512i v[4] = {_mm512_unpacklo_epi64(t0, t2), _mm512_unpackhi_epi64(t0, t2),
                          _mm512_unpacklo_epi64(t1, t3), _mm512_unpackhi_epi64(t1, t3)};
    // Each V_p's (e - 127) << 7 in both words of dword p.
    const __m512i e = _mm512_slli_epi32(
        _mm512_sub_epi32(_mm512_permutexvar_epi32(
                             block_of_lane_, _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales)))),
                         _mm512_set1_epi32(127)),
        7);
    const __m512i add = _mm512_or_si512(_mm512_and_si512(e, _mm512_set1_epi32(0xFFFF)), _mm512_slli_epi32(e, 16));
    const __m512i seven = _mm512_set1_epi16(7), low_words = _mm512_set1_epi32(0xFFFF);
    for (int j = 0; j < 4; ++j) {
      for (int t = 0; t < 4; ++t) {
        const __m512i y = t == 0 ? v[j] : _mm512_srli_epi32(v[j], 8 * t);
        // Low word: y (its byte's low nibble in bits 0-3); high word: y << 12 (the high
        // nibble in bits 16-19): (A & C) | (B & ~C) with C the low words.
        const __m512i idx = _mm512_ternarylogic_epi32(y, _mm512_slli_epi32(y, 12), low_words, 0xE4);
        const __m512i val = _mm512_permutexvar_epi16(idx, table);
        const __mmask32 nonzero = _mm512_test_epi16_mask(idx, seven);
        _mm512_storeu_si512(out + 32 * (4 * j + t), _mm512_mask_add_epi16(val, nonzero, val, add));
      }
    }
  }

 private:
  const __m512i block_of_lane_ = _mm512_loadu_si512(kE2m1TileBlock);  // lane p <- block kE2m1TileBlock[p]
};

// FP4: per-32 scales of each row. In the packed e2m1 order word i of each of a 128-value
// step's four vectors holds block i / 8 of the step, so one vector of exponent steps
// serves all four; zero codes keep zero.
class E2m1Rows {
 public:
  E2m1Rows(const WeightMatrix& w, bool tile_order) : w_(w), ns_(w.cols / kFp4Block), tile_order_(tile_order) {
    alignas(64) uint16_t pick[32];
    for (int i = 0; i < 32; ++i) pick[i] = uint16_t(i / 8);
    pick_ = _mm512_load_si512(pick);
  }
  uint64_t Unfolded(int64_t r0, int rows) const {
    uint64_t bad = 0;
    for (int m = 0; m < rows; ++m) {
      if (!ScalesFold(w_.scale + (r0 + m) * ns_, ns_, kE2m1ScaleMin, kE2m1ScaleMax)) bad |= uint64_t(1) << m;
    }
    return bad;
  }
  void Chunk(int64_t r0, int rows, int zero_rows, uint64_t bad, int64_t k0, int64_t len, uint16_t* out,
             int64_t out_stride) {
    const __m512i table = E2m1Table();
    const __m512i magnitude = _mm512_set1_epi16(7);
    const __m512i bias = _mm512_set1_epi16(127);
    const int64_t K = w_.cols;
    for (int m = 0; m < zero_rows; ++m) {
      uint16_t* o = out + m * out_stride;
      if (m >= rows || (bad >> m) & 1) {
        std::memset(o, 0, size_t(len) * 2);
        continue;
      }
      const int64_t r = r0 + m;
      const uint8_t* row = w_.data + r * (K / 2) + k0 / 2;
      const uint8_t* sc = w_.scale + r * ns_ + k0 / kFp4Block;
      if (tile_order_) {
        for (int64_t g = 0; g < len; g += kTileOrderGroup) {
          for (int line = 0; line < 4; ++line) {  // the group's 256 bytes, kPrefetchAhead on
            _mm_prefetch(reinterpret_cast<const char*>(row + g / 2) + kPrefetchAhead + 64 * line, _MM_HINT_T0);
          }
          tile_steps_.Group(row + g / 2, sc + g / kFp4Block, table, o + g);
        }
        continue;
      }
      const bool realign = LineAlignedLoads::Pays(row, 0);
      const LineAlignedLoads lines(realign ? row : nullptr);
      for (int64_t k = 0; k < len; k += 128) {
        const uint8_t* src = row + k / 2;
        _mm_prefetch(reinterpret_cast<const char*>(src) + kPrefetchAhead, _MM_HINT_T0);
        const __m512i v = realign ? lines.Load64(src) : _mm512_loadu_si512(src);
        uint32_t s4;
        std::memcpy(&s4, sc + k / kFp4Block, 4);
        // (e - 127) << 7 for the step's 4 blocks, then word i <- block i / 8.
        const __m512i e = _mm512_slli_epi16(
            _mm512_sub_epi16(_mm512_cvtepu8_epi16(_mm256_castsi128_si256(_mm_cvtsi32_si128(int(s4)))), bias), 7);
        const __m512i add = _mm512_permutexvar_epi16(pick_, e);
        Unroll4([&](int q) {
          const __m512i nib = q == 0 ? v : _mm512_srli_epi16(v, 4 * q);
          const __m512i val = _mm512_permutexvar_epi16(nib, table);
          const __mmask32 nonzero = _mm512_test_epi16_mask(nib, magnitude);
          _mm512_storeu_si512(o + k + 32 * q, _mm512_mask_add_epi16(val, nonzero, val, add));
        });
      }
    }
  }

 private:
  template <typename F>
  static void Unroll4(F&& f) {
    f(0);
    f(1);
    f(2);
    f(3);
  }
  const WeightMatrix& w_;
  const int64_t ns_;
  const bool tile_order_;
  __m512i pick_;
  E2m1TileSteps tile_steps_;
};

// ---- tiles ----

// Tile registers: tmm0-1 A, tmm2-3 B, tmm4-7 C. A tile register is not renamed: a load
// into one waits for the products still reading it, so consecutive products alternate
// registers, and a pass keeps up to 4 independent C tiles in flight.
constexpr int kCTiles = 4;

// Panels per pass of the chunked (up to 16 tokens) products.
constexpr int kChunkPanels = 2;

// Activations in B-tile order for token tiles of nt rows: tile j, k step c: 16 rows (k
// pairs) x nt tokens, each a dword of two packed values; tokens past T are zero. Each
// step's 16 tokens x 16 pairs transposed in registers. (perf put 25-30% of a 512-token
// prefill chunk's samples on this loop as a scalar copy, as gathers and as this
// transpose alike, while a timer around it read 224 ms of ~16 s: the samples of the tile
// instructions land here.)
// In tile order step 16 g + l, pair i is dword 256 g + 16 i + l of each row: for each
// group and vector i, 16 tokens x 16 dwords transposed give pair i of the group's 16 steps.
void PackVnni(const uint16_t* packed, int64_t T, int64_t K, int64_t nt, bool tile_order,
              AlignedVector<uint32_t>* vnni) {
  const int64_t tiles = (T + nt - 1) / nt, steps = K / kTileK, half = K / 2;
  vnni->resize(size_t(tiles * steps * 16 * nt));
  const uint32_t* src = reinterpret_cast<const uint32_t*>(packed);
  uint32_t* dst = vnni->data();
  const __mmask16 store = __mmask16((uint32_t(1) << nt) - 1);
  __m512i r[16], out[16];
  for (int64_t j = 0; j < tiles; ++j) {
    const int64_t valid = std::min<int64_t>(nt, T - j * nt);
    const uint32_t* tile = src + j * nt * half;
    for (int i = int(valid); i < 16; ++i) r[i] = _mm512_setzero_si512();
    if (tile_order) {
      for (int64_t g = 0; g < steps / 16; ++g) {
        uint32_t* group = dst + g * 16 * 16 * nt;
        for (int v = 0; v < 16; ++v) {
          for (int64_t i = 0; i < valid; ++i) r[i] = _mm512_loadu_si512(tile + i * half + g * 256 + v * 16);
          Transpose16x16(r, out);
          for (int l = 0; l < 16; ++l) _mm512_mask_storeu_epi32(group + (l * 16 + v) * nt, store, out[l]);
        }
      }
      dst += steps * 16 * nt;
      continue;
    }
    for (int64_t c = 0; c < steps; ++c) {
      for (int64_t i = 0; i < valid; ++i) r[i] = _mm512_loadu_si512(tile + i * half + c * 16);
      Transpose16x16(r, out);
      for (int p = 0; p < 16; ++p) _mm512_mask_storeu_epi32(dst + p * nt, store, out[p]);
      dst += 16 * nt;
    }
  }
}

// G panels (16 decoded weight rows each, `panel_stride` values apart, rows K + kPanelPad
// apart) x J token tiles: C tile 4 + g * J + j accumulates panel g x tile j over all of
// K, k steps in order; stored to c_out[(g * J + j) * 16 * nt ..] (16 rows x nt).
template <int G, int J>
void PanelTiles(const uint16_t* panel, int64_t panel_stride, int64_t K, const uint32_t* vnni, int64_t tile_stride,
                int64_t nt, float* c_out) {
  static_assert(G * J <= kCTiles && J <= 2);
  Unroll<G * J>([&](auto i) { Tmm<4 + decltype(i)::value>::Zero(); });
  const int64_t a_stride = (K + kPanelPad) * 2;
  // One k step: B tiles (tmm2 + j, or tmm2 / tmm3 by step parity for one token tile),
  // then each panel's A tile (tmm0 / tmm1 by panel parity) and its products.
  auto step = [&](int64_t c, auto parity) {
    constexpr int P = decltype(parity)::value;
    Unroll<J>([&](auto j) {
      constexpr int kB = J == 1 ? 2 + P : 2 + decltype(j)::value;
      Tmm<kB>::Load(vnni + decltype(j)::value * tile_stride + c * 16 * nt, nt * 4);
    });
    Unroll<G>([&](auto g) {
      constexpr int kG = decltype(g)::value, kA = kG % 2;
      Tmm<kA>::Load(panel + kG * panel_stride + c * kTileK, a_stride);
      Unroll<J>([&](auto j) {
        constexpr int kJ = decltype(j)::value, kB = J == 1 ? 2 + P : 2 + kJ;
        Tmm<4 + kG * J + kJ>::template Dp<kA, kB>();
      });
    });
  };
  const int64_t steps = K / kTileK;  // even (K % 128 == 0)
  for (int64_t c = 0; c < steps; c += 2) {
    step(c, std::integral_constant<int, 0>{});
    step(c + 1, std::integral_constant<int, 1>{});
  }
  Unroll<G * J>([&](auto i) { Tmm<4 + decltype(i)::value>::Store(c_out + decltype(i)::value * kRows * nt, nt * 4); });
}

using PanelTilesFn = void (*)(const uint16_t*, int64_t, int64_t, const uint32_t*, int64_t, int64_t, float*);
PanelTilesFn PanelTilesFor(int g, int j) {
  if (j == 2) return g == 1 ? PanelTiles<1, 2> : PanelTiles<2, 2>;
  switch (g) {
    case 1: return PanelTiles<1, 1>;
    case 2: return PanelTiles<2, 1>;
    case 3: return PanelTiles<3, 1>;
    default: return PanelTiles<4, 1>;
  }
}

// Up to 16 tokens (one B tile): G panels of 16 weight rows decoded kMaxChunk values at a
// time into `buf` (two halves in turn, each 16 G rows x kMaxChunk: in L1) between their k
// steps, rather than whole panels first: at T = 1 the whole-panel round trip through L2
// left the products waiting on their A tiles (FP4 [16384, 4096] T = 1: 9.1 ms against
// 2.5 for the AVX-512 kernels). C tile 4 + g accumulates panel g over all of K, k steps
// in order, as PanelTiles.
template <int G, typename Rows>
void ChunkedPanelTiles(Rows& rows, int64_t r0, int nrows, uint64_t unfolded, int64_t K, const uint32_t* vnni,
                       int64_t nt, int64_t max_chunk, uint16_t* buf, float* c_out) {
  static_assert(G <= kCTiles);
  Unroll<G>([&](auto g) { Tmm<4 + decltype(g)::value>::Zero(); });
  for (int64_t k0 = 0; k0 < K; k0 += max_chunk) {
    const int64_t len = std::min(max_chunk, K - k0);
    // Two halves in turn: the next chunk's decode need not wait for this chunk's tile
    // loads to leave the store queue.
    uint16_t* chunk = buf + (k0 / max_chunk % 2) * G * kRows * max_chunk;
    rows.Chunk(r0, nrows, G * int(kRows), unfolded, k0, len, chunk, max_chunk);
    for (int64_t s = 0; s < len / kTileK; s += 2) {
      Unroll<2>([&](auto parity) {
        constexpr int kB = 2 + decltype(parity)::value;
        const int64_t ks = s + decltype(parity)::value;
        Tmm<kB>::Load(vnni + (k0 / kTileK + ks) * 16 * nt, nt * 4);
        Unroll<G>([&](auto g) {
          constexpr int kG = decltype(g)::value, kA = kG % 2;
          Tmm<kA>::Load(chunk + kG * kRows * max_chunk + ks * kTileK, max_chunk * 2);
          Tmm<4 + kG>::template Dp<kA, kB>();
        });
      });
    }
  }
  Unroll<G>([&](auto g) { Tmm<4 + decltype(g)::value>::Store(c_out + decltype(g)::value * kRows * nt, nt * 4); });
}

// A C tile stored as 16 rows of 16 floats (row m: weight row m's outputs for 16 tokens)
// into y (at the tile's first token and row): transposed in registers, each of the first
// `tokens` tokens' outputs one masked store of the rows in `keep`. (Scalar stores, 256 per
// tile into 16 rows of y, had the products waiting on the store buffer: one thread,
// fp8_32768x1024, T16 ran 2x T8.)
inline void StoreTileTransposed(const float* c, __mmask16 keep, int64_t tokens, float* y, int64_t ldy,
                                bool round_bf16) {
  __m512i r[kRows], out[kRows];
  for (int m = 0; m < int(kRows); ++m) r[m] = _mm512_loadu_si512(c + m * kRows);
  Transpose16x16(r, out);
  for (int64_t t = 0; t < tokens; ++t) {
    const __m512 v = _mm512_castsi512_ps(out[t]);
    _mm512_mask_storeu_ps(y + t * ldy, keep, round_bf16 ? RoundBf16x16(v) : v);
  }
}

// ---- FP8 in tile order, up to 16 tokens: tile steps decoded directly ----
//
// The path above decodes a group's 16 vectors (V_i: a and b of each 64 codes) and then
// transposes their dwords into the 16 tile steps: 64 shuffles per 512 codes, twice the
// decode's own 32 (16 vpermt2b, 16 unpacks), while a batch of up to 16 tokens reuses each
// decoded row only once. Here the codes are put in step order first (16-byte broadcast
// loads into each lane, 8 in-lane byte shuffles, 8 dword unpacks per group) and the
// decoder then writes the steps themselves. Step l's row
// takes pair l of every V_i, so lane L of it comes from the group's 128-column block L:
// the four block scales cannot be folded into one decode table, and go on the activations
// instead. (w 2^d) x = w (x 2^d) exactly while x 2^d stays a normal bf16 (checked per row
// block from each column block's activation exponents; denormal activations, flushed by the
// tiles anyway, are zeroed first), so the products keep the tile-order bits.
// The tile products of a group run one group behind its decode, step m after row m's
// decode: the A tiles then read rows stored a group earlier and the tile unit works
// alongside the decoder. One thread, FP8 [4096, 4096] (16 MB, from L3), min of 15
// (/tmp/kb/dec8.cc): decode + transpose + store 8.7-9.0 GB/s, with the tile products
// 6.3-6.5; codes in step order 12.9-13.6, with the interleaved products 11.9-12.1.

// Per 16-code lane: words (0, 4), (1, 5), (2, 6), (3, 7) of the lane as dwords 0..3.
inline __m512i StepWordPairs() {
  alignas(64) uint8_t idx[64];
  constexpr uint8_t kWords[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  for (int i = 0; i < 64; ++i) idx[i] = uint8_t(2 * kWords[(i % 16) / 2] + i % 2);
  return _mm512_load_si512(idx);
}

// One row's group (512 codes at `codes`, 64-byte chunks C_0..C_7) as its 16 tile steps,
// unscaled: out + 32 l = step l (words 8L..8L+7: pair l of V_4L..V_4L+3, V_2c = a(C_c),
// V_2c+1 = b(C_c), so lane L takes lane l / 4 of C_2L and C_2L+1).
// E_j (lane L = lane j of C_2L) and O_j (lane j of C_2L+1) are gathered by 16-byte
// broadcast loads, three of them masked (a load and a blend on port 0 or 5), instead of
// loading the chunks whole and transposing their lanes with 16 vshufi32x4 (port 5, which
// the in-lane shuffles, unpacks and table lookups load too: 64 of 72 vector instructions
// per group went there); unaligned rows need no realigning shuffles either.
inline void E4m3GroupSteps(const E4m3Tables& t, __m512i pairs, const uint8_t* codes, uint16_t* out) {
  auto lanes = [&](const uint8_t* first) {  // lane L = the 16 bytes at first + 128 L
    __m512i v = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(first)));
    for (int L = 1; L < 4; ++L) {
      v = _mm512_mask_broadcast_i32x4(v, __mmask16(0xF << (4 * L)),
                                      _mm_loadu_si128(reinterpret_cast<const __m128i*>(first + 128 * L)));
    }
    return _mm512_shuffle_epi8(v, pairs);
  };
  // Lane L of unpacklo(E_j, O_j): codes 0, 1, 8, 9 of C_2L, C_2L+1 (step 4j), then 2, 3,
  // 10, 11 (step 4j + 1); unpackhi: steps 4j + 2 and 4j + 3.
  for (int j = 0; j < 4; ++j) {
    const __m512i e = lanes(codes + 16 * j), o = lanes(codes + 64 + 16 * j);
    // Named vectors, each stored as soon as decoded (an array of four went through the
    // stack, a store and a load more per vector: 7-8% of FP8 [4096, 4096] T = 16 calls).
    __m512i s0, s1, s2, s3;
    DecodeE4m3x64(t, _mm512_unpacklo_epi32(e, o), &s0, &s1);
    DecodeE4m3x64(t, _mm512_unpackhi_epi32(e, o), &s2, &s3);
    _mm512_store_si512(out + 32 * (4 * j), s0);
    _mm512_store_si512(out + 32 * (4 * j + 1), s1);
    _mm512_store_si512(out + 32 * (4 * j + 2), s2);
    _mm512_store_si512(out + 32 * (4 * j + 3), s3);
  }
}

// Per 128-column block of T packed bf16 rows (the e4m3 packed order moves values only
// within 64): the lowest and highest exponent field of the normal values (lo > hi: none);
// an infinity or NaN sets hi past any fold.
constexpr int kNonFinite = 1000;
void ColumnBlockExponents(const uint16_t* packed, int64_t T, int64_t K, std::vector<int>* lo, std::vector<int>* hi) {
  const int64_t nb = K / kBlock;
  lo->assign(size_t(nb), 255);
  hi->assign(size_t(nb), 0);
  const __m512i field = _mm512_set1_epi16(0xFF);
  for (int64_t b = 0; b < nb; ++b) {
    __m512i vlo = _mm512_set1_epi16(255), vhi = _mm512_setzero_si512();
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t i = 0; i < kBlock; i += 32) {
        const __m512i e = _mm512_and_si512(_mm512_srli_epi16(_mm512_loadu_si512(packed + t * K + b * kBlock + i), 7), field);
        vlo = _mm512_mask_min_epu16(vlo, _mm512_test_epi16_mask(e, e), vlo, e);
        vhi = _mm512_max_epu16(vhi, e);
      }
    }
    alignas(64) uint16_t l[32], h[32];
    _mm512_store_si512(l, vlo);
    _mm512_store_si512(h, vhi);
    for (int i = 0; i < 32; ++i) {
      (*lo)[size_t(b)] = std::min<int>((*lo)[size_t(b)], l[i]);
      (*hi)[size_t(b)] = std::max<int>((*hi)[size_t(b)], h[i] == 255 ? kNonFinite : h[i]);
    }
  }
}

// Whether a row block's scales (nb ue8m0 bytes) fold into its weights (the tiles' bits:
// kE4m3ScaleMin..Max) and move every activation to a normal bf16.
bool ScalesFoldOnActivations(const uint8_t* scales, const std::vector<int>& lo, const std::vector<int>& hi) {
  for (size_t b = 0; b < lo.size(); ++b) {
    const int e = scales[b], d = e - 127;
    if (e < kE4m3ScaleMin || e > kE4m3ScaleMax) return false;
    if (lo[b] <= hi[b] && (lo[b] + d < 1 || hi[b] + d > 254)) return false;
  }
  return true;
}

// The B tiles (PackVnni, tile order: step s at s * 16 * nt, k pair i at i * nt dwords)
// times each step's column-block scale (pairs 4L..4L+3 of group g: block 4g + L), zeros and
// denormals to zero.
void ScaleStepActivations(const uint32_t* vnni, int64_t steps, int64_t nt, const uint8_t* scales, uint32_t* out) {
  const int64_t words = 8 * nt;  // 4 pairs x nt tokens, 2 words each
  const __m512i exponent = _mm512_set1_epi16(0x7F80);
  for (int64_t s = 0; s < steps; ++s) {
    for (int64_t L = 0; L < 4; ++L) {
      const __m512i add = _mm512_set1_epi16(int16_t((int(scales[(s / 16) * 4 + L]) - 127) * 128));
      const uint16_t* src = reinterpret_cast<const uint16_t*>(vnni + s * 16 * nt + 4 * L * nt);
      uint16_t* dst = reinterpret_cast<uint16_t*>(out + s * 16 * nt + 4 * L * nt);
      for (int64_t i = 0; i < words; i += 32) {
        const __mmask32 m = words - i >= 32 ? ~__mmask32(0) : (__mmask32(1) << (words - i)) - 1;
        const __m512i v = _mm512_maskz_loadu_epi16(m, src + i);
        _mm512_mask_storeu_epi16(dst + i, m, _mm512_maskz_add_epi16(_mm512_test_epi16_mask(v, exponent), v, add));
      }
    }
  }
}

// Step m of a group into C tile C: A (16 decoded rows, step m of `steps`: 32 words each,
// rows 512 words apart), B (`b`: 16 k pairs x nt tokens); tile registers by m's parity.
template <int C>
inline void StepProduct(int m, const uint16_t* steps, const uint32_t* b, int64_t nt) {
  if (m % 2 == 0) {
    Tmm<2>::Load(b, nt * 4);
    Tmm<0>::Load(steps + 32 * m, kTileOrderGroup * 2);
    Tmm<C>::template Dp<0, 2>();
  } else {
    Tmm<3>::Load(b, nt * 4);
    Tmm<1>::Load(steps + 32 * m, kTileOrderGroup * 2);
    Tmm<C>::template Dp<1, 3>();
  }
}

// FP8 steps for LaggedStepProducts (one per thread): codes in step order (E4m3GroupSteps),
// the row block's scales on the B tiles.
class E4m3StepRows {
 public:
  E4m3StepRows(const WeightMatrix& w, const uint32_t* vnni, int64_t nt, const std::vector<int>& lo,
               const std::vector<int>& hi)
      : w_(w), vnni_(vnni), nt_(nt), lo_(lo), hi_(hi) {
    thread_local AlignedVector<uint32_t> scaled;
    const int64_t size = w.cols / kTileK * 16 * nt;
    scaled.resize(size_t(2 * size));
    scaled_[0] = scaled.data();
    scaled_[1] = scaled.data() + size;
  }
  // The panel's rows (from r0) that must take the FMA kernels: all where its row block's
  // scales do not fold (ScalesFoldOnActivations), and those past the row block of r0.
  // Each row block scaled goes to the other buffer than the last one scaled, which the
  // previous panel's last products (run during this one's decode) may still read.
  uint32_t Unfolded(int64_t r0, int rows) {
    const int64_t rb = r0 / kBlock, nb = w_.cols / kBlock;
    if (rb != checked_rb_) {
      folds_ = ScalesFoldOnActivations(w_.scale + rb * nb, lo_, hi_);
      if (folds_) {
        last_ ^= 1;
        ScaleStepActivations(vnni_, w_.cols / kTileK, nt_, w_.scale + rb * nb, scaled_[last_]);
        scaled_rb_[last_] = rb;
      }
      checked_rb_ = rb;
    }
    uint32_t bad = 0;
    for (int m = 0; m < rows; ++m) {
      if (!folds_ || (r0 + m) / kBlock != rb) bad |= uint32_t(1) << m;
    }
    return bad;
  }
  const uint32_t* B(int64_t r0, int64_t step) const {
    return scaled_[scaled_rb_[0] == r0 / kBlock ? 0 : 1] + step * 16 * nt_;
  }
  void Decode(int64_t row, int64_t g, uint16_t* out) const {
    const uint8_t* codes = w_.data + row * w_.cols + g * kTileOrderGroup;
    for (int line = 0; line < 8; ++line) {
      _mm_prefetch(reinterpret_cast<const char*>(codes) + kTileOrderGroup + 64 * line, _MM_HINT_T0);
    }
    E4m3GroupSteps(tables_, pairs_, codes, out);
  }

 private:
  const E4m3Tables& tables_ = SharedE4m3Tables();
  const WeightMatrix& w_;
  const uint32_t* vnni_;
  const int64_t nt_;
  const std::vector<int>&lo_, &hi_;
  const __m512i pairs_ = StepWordPairs();
  uint32_t* scaled_[2];
  int64_t scaled_rb_[2] = {-1, -1};  // the row block each holds
  int last_ = 1;                     // the one scaled last
  int64_t checked_rb_ = -1;
  bool folds_ = false;
};

// FP4 steps for LaggedStepProducts: E2m1TileSteps, scales folded into each row's words.
class E2m1StepRows {
 public:
  E2m1StepRows(const WeightMatrix& w, const uint32_t* vnni, int64_t nt) : w_(w), rows_(w, true), vnni_(vnni), nt_(nt) {}
  uint32_t Unfolded(int64_t r0, int rows) const { return uint32_t(rows_.Unfolded(r0, rows)); }
  const uint32_t* B(int64_t, int64_t step) const { return vnni_ + step * 16 * nt_; }
  void Decode(int64_t row, int64_t g, uint16_t* out) const {
    const uint8_t* bytes = w_.data + row * (w_.cols / 2) + g * (kTileOrderGroup / 2);
    for (int line = 0; line < 4; ++line) {  // the next group's 256 bytes
      _mm_prefetch(reinterpret_cast<const char*>(bytes) + kTileOrderGroup / 2 + 64 * line, _MM_HINT_T0);
    }
    steps_.Group(bytes, w_.scale + row * (w_.cols / kFp4Block) + g * (kTileOrderGroup / kFp4Block), table_, out);
  }

 private:
  const WeightMatrix& w_;
  const E2m1Rows rows_;  // (its scale checks)
  const uint32_t* vnni_;
  const int64_t nt_;
  const __m512i table_ = E2m1Table();
  E2m1TileSteps steps_;
};

// Tile-order products of up to 16 tokens (nt = T; config: A tiles 16 x 64 bytes, B and C
// 16 x 4 nt) on 16-row panels: each (panel, group) unit's rows are decoded by
// make_steps()'s decoder (one per thread: Unfolded, B, Decode) into one half of a buffer
// while the previous unit's steps run from the other, step m after row m, across panel
// ends too (a panel's C tile, 4 or 5 by turns, is stored once its last steps have run).
// Rows the decoder leaves out go to `unfolded`.
template <typename MakeSteps>
void LaggedStepProducts(int64_t T, const TileConfig& config, int64_t K, int64_t row_begin, int64_t N, float* y,
                        int64_t ldy, bool round_bf16, std::vector<int64_t>* unfolded, MakeSteps&& make_steps) {
  const int64_t groups = K / kTileOrderGroup, nt = T;
  std::mutex unfolded_mu;
  ParallelFor(size_t((N + kRows - 1) / kRows), 1, [&](size_t p0, size_t p1) {
    UseConfig(config);
    auto steps = make_steps();
    alignas(64) thread_local uint16_t buf[2 * kRows * kTileOrderGroup];  // 2 x 16 rows x a group's steps
    alignas(64) float c_out[kRows * kRows];
    struct Unit {
      int64_t n0, g;
      int rows, c;  // c: the panel's C tile (0: tmm4, 1: tmm5)
      uint32_t bad;
    };
    Unit prev{};
    bool have_prev = false;
    int64_t units = 0;
    // The previous unit's step m; after its last group's steps, its panel's outputs.
    auto prev_step = [&](int m) {
      const uint16_t* a = buf + ((units + 1) % 2) * kRows * kTileOrderGroup;
      const uint32_t* b = steps.B(row_begin + prev.n0, prev.g * 16 + m);
      if (prev.c == 0) {
        StepProduct<4>(m, a, b, nt);
      } else {
        StepProduct<5>(m, a, b, nt);
      }
    };
    // After a panel's last steps: its C tile out (StoreTileTransposed) and zeroed.
    auto finish_prev = [&] {
      if (prev.g != groups - 1) return;
      if (prev.c == 0) {
        Tmm<4>::Store(c_out, kRows * 4);
        Tmm<4>::Zero();
      } else {
        Tmm<5>::Store(c_out, kRows * 4);
        Tmm<5>::Zero();
      }
      const __mmask16 keep = __mmask16(((uint32_t(1) << prev.rows) - 1) & ~prev.bad);
      StoreTileTransposed(c_out, keep, T, y + prev.n0, ldy, round_bf16);
    };
    Tmm<4>::Zero();
    Tmm<5>::Zero();
    int panel_c = 0;
    for (int64_t p = int64_t(p0); p < int64_t(p1); ++p) {
      const int64_t n0 = p * kRows, r0 = row_begin + n0;
      const int rows = int(std::min<int64_t>(kRows, N - n0));
      const uint32_t bad = steps.Unfolded(r0, rows);
      if (bad != 0) {
        std::lock_guard<std::mutex> lock(unfolded_mu);
        for (int m = 0; m < rows; ++m) {
          if ((bad >> m) & 1) unfolded->push_back(r0 + m);
        }
      }
      if (bad == (uint32_t(1) << rows) - 1) continue;
      for (int64_t g = 0; g < groups; ++g, ++units) {
        uint16_t* half = buf + (units % 2) * kRows * kTileOrderGroup;
        for (int m = 0; m < int(kRows); ++m) {
          if (m < rows && !((bad >> m) & 1)) steps.Decode(r0 + m, g, half + m * kTileOrderGroup);
          if (have_prev) prev_step(m);
        }
        if (have_prev) finish_prev();
        prev = Unit{n0, g, rows, panel_c, bad};
        have_prev = true;
      }
      panel_c ^= 1;
    }
    if (have_prev) {  // (units is past the last unit: its rows are in the other half)
      for (int m = 0; m < int(kRows); ++m) prev_step(m);
      finish_prev();
    }
  });
}

}  // namespace

bool AmxActive() {
  static const bool active = IsaAllowsAmx() && AmxSupported();
  return active;
}

void LinearAmx(const uint16_t* packed, int64_t T, PackedFormat format, const WeightMatrix& w, int64_t row_begin,
               int64_t N, float* y, int64_t ldy, bool round_bf16, bool tile_order, std::vector<int64_t>* unfolded) {
  DSV4_CHECK(AmxActive());
  DSV4_CHECK(tile_order ? format == PackedFormat::kE4m3 || format == PackedFormat::kE2m1Tile
                        : format == PackedFormat::kE4m3 || format == PackedFormat::kE2m1);
  const int64_t K = w.cols;
  DSV4_CHECK(K % (tile_order ? kTileOrderGroup : kBlock) == 0);
  const int64_t max_chunk = ChunkLen(tile_order);
  const int64_t nt = std::min<int64_t>(T, 16);
  const int64_t tiles = (T + nt - 1) / nt, steps = K / kTileK, tile_stride = steps * 16 * nt;
  thread_local AlignedVector<uint32_t> vnni_buffer;
  PackVnni(packed, T, K, nt, tile_order, &vnni_buffer);
  const uint32_t* vnni = vnni_buffer.data();
  TileConfig config;
  for (int t = 0; t < 2; ++t) {
    config.rows[t] = kRows;
    config.colsb[t] = kTileK * 2;
  }
  for (int t = 2; t < 8; ++t) {
    config.rows[t] = kRows;
    config.colsb[t] = uint16_t(nt * 4);
  }
  if (tile_order && tiles == 1) {
    if (format == PackedFormat::kE4m3) {
      // Kept per thread (no allocation per call). References: the workers' make_steps()
      // below would otherwise name their own thread's, empty, vectors.
      thread_local std::vector<int> lo_buffer, hi_buffer;
      std::vector<int>&lo = lo_buffer, &hi = hi_buffer;
      ColumnBlockExponents(packed, T, K, &lo, &hi);
      return LaggedStepProducts(T, config, K, row_begin, N, y, ldy, round_bf16, unfolded,
                                [&] { return E4m3StepRows(w, vnni, nt, lo, hi); });
    }
    return LaggedStepProducts(T, config, K, row_begin, N, y, ldy, round_bf16, unfolded,
                              [&] { return E2m1StepRows(w, vnni, nt); });
  }
  const int64_t groups = (N + kRows - 1) / kRows;
  const int64_t panel_stride = kRows * (K + kPanelPad);
  std::mutex unfolded_mu;
  // Outputs of G panels from row n0 (c_out: panel g, token tile j at (g * nj + j) * 16 * nt).
  auto store = [&](int64_t n0, int np, int64_t j0, int nj, uint64_t bad, const float* c_out) {
    for (int p = 0; p < np; ++p) {
      const int rows = int(std::min<int64_t>(kRows, N - n0 - p * kRows));
      for (int j = 0; j < nj; ++j) {
        const float* c = c_out + (p * nj + j) * kRows * nt;
        if (nt == kRows) {
          const __mmask16 keep = __mmask16(((uint32_t(1) << rows) - 1) & ~uint32_t(bad >> (p * kRows)));
          StoreTileTransposed(c, keep, std::min<int64_t>(nt, T - (j0 + j) * nt), y + (j0 + j) * nt * ldy + n0 + p * kRows,
                              ldy, round_bf16);
          continue;
        }
        for (int m = 0; m < rows; ++m) {
          if ((bad >> (p * kRows + m)) & 1) continue;
          const int64_t n = n0 + p * kRows + m;
          for (int64_t i = 0; i < nt; ++i) {
            const int64_t t = (j0 + j) * nt + i;
            if (t >= T) break;
            const float v = c[m * nt + i];
            y[t * ldy + n] = round_bf16 ? RoundBf16(v) : v;
          }
        }
      }
    }
  };
  auto run = [&](auto& weight_rows) {
    ParallelFor(size_t(groups), 1, [&](size_t g0, size_t g1) {
      UseConfig(config);
      thread_local AlignedVector<uint16_t> panel;
      thread_local AlignedVector<float> c_out;
      c_out.resize(size_t(kCTiles * kRows * nt));
      // Up to 16 tokens (natural order; tile order took LaggedStepProducts above): passes
      // of kChunkPanels panels, decoded chunk by chunk; more: 2 panels x 2 token tiles,
      // the panels decoded whole once and reused (from L2) by every pass.
      const int panels_max = tiles == 1 ? kChunkPanels : 2;
      panel.resize(size_t(tiles == 1 ? 2 * kChunkPanels * kRows * max_chunk : 2 * panel_stride));
      for (int64_t g = int64_t(g0); g < int64_t(g1); g += panels_max) {
        const int np = int(std::min<int64_t>(panels_max, int64_t(g1) - g));
        const int64_t n0 = g * kRows;
        const int nrows = int(std::min<int64_t>(np * kRows, N - n0));
        const uint64_t bad = weight_rows.Unfolded(row_begin + n0, nrows);
        if (bad != 0) {
          std::lock_guard<std::mutex> lock(unfolded_mu);
          for (int m = 0; m < nrows; ++m) {
            if ((bad >> m) & 1) unfolded->push_back(row_begin + n0 + m);
          }
        }
        if (tiles == 1) {
          auto chunked = [&](auto np_const) {
            ChunkedPanelTiles<decltype(np_const)::value>(weight_rows, row_begin + n0, nrows, bad, K, vnni, nt,
                                                         max_chunk, panel.data(), c_out.data());
          };
          switch (np) {
            case 1: chunked(std::integral_constant<int, 1>{}); break;
            case 2: chunked(std::integral_constant<int, 2>{}); break;
            case 3: chunked(std::integral_constant<int, 3>{}); break;
            default: chunked(std::integral_constant<int, 4>{}); break;
          }
          store(n0, np, 0, 1, bad, c_out.data());
          continue;
        }
        for (int p = 0; p < np; ++p) {
          const int prow = p * int(kRows);
          const int rows = std::max(0, std::min(int(kRows), nrows - prow));
          for (int64_t k0 = 0; k0 < K; k0 += max_chunk) {
            weight_rows.Chunk(row_begin + n0 + prow, rows, int(kRows), bad >> prow, k0, std::min(max_chunk, K - k0),
                              panel.data() + p * panel_stride + k0, K + kPanelPad);
          }
        }
        for (int64_t j0 = 0; j0 < tiles; j0 += 2) {
          const int nj = int(std::min<int64_t>(2, tiles - j0));
          PanelTilesFor(np, nj)(panel.data(), panel_stride, K, vnni + j0 * tile_stride, tile_stride, nt, c_out.data());
          store(n0, np, j0, nj, bad, c_out.data());
        }
      }
    });
  };
  if (format == PackedFormat::kE4m3) {
    E4m3Rows rows(w, tile_order);
    run(rows);
  } else {
    E2m1Rows rows(w, tile_order);
    run(rows);
  }
}

namespace {

// Blocked bf16 (the head): C tile 4 + i (tokens x 16 rows of block i) += A (up to 16
// activation rows x 32 k: tmm0 / tmm1 by step parity) x B (block i's 16 k pairs: tmm2 /
// tmm3 by block parity), k steps in order; stored as c_out[(r * NB + i) * 16 + lane].
template <int NB>
void BlocksTiles(const uint16_t* x, int64_t K, const uint16_t* const* blocks, float* c_out) {
  static_assert(NB <= kCTiles);
  Unroll<NB>([&](auto i) { Tmm<4 + decltype(i)::value>::Zero(); });
  auto step = [&](int64_t c, auto parity) {
    constexpr int kA = decltype(parity)::value;
    Tmm<kA>::Load(x + c * kTileK, K * 2);
    Unroll<NB>([&](auto i) {
      constexpr int kI = decltype(i)::value, kB = 2 + kI % 2;
      const uint16_t* b = blocks[kI] + c * kTileK * kRows;
      for (int line = 0; line < 16; ++line) {
        _mm_prefetch(reinterpret_cast<const char*>(b) + kBlockPrefetchBytes + 64 * line, _MM_HINT_T0);
      }
      Tmm<kB>::Load(b, 64);
      Tmm<4 + kI>::template Dp<kA, kB>();
    });
  };
  const int64_t steps = K / kTileK;
  int64_t c = 0;
  for (; c + 2 <= steps; c += 2) {
    step(c, std::integral_constant<int, 0>{});
    step(c + 1, std::integral_constant<int, 1>{});
  }
  if (c < steps) step(c, std::integral_constant<int, 0>{});
  Unroll<NB>([&](auto i) { Tmm<4 + decltype(i)::value>::Store(c_out + decltype(i)::value * kRows, NB * kRows * 4); });
}
void BlocksTilesN(int n, const uint16_t* x, int64_t K, const uint16_t* const* blocks, float* c_out) {
  switch (n) {
    case 1: return BlocksTiles<1>(x, K, blocks, c_out);
    case 2: return BlocksTiles<2>(x, K, blocks, c_out);
    case 3: return BlocksTiles<3>(x, K, blocks, c_out);
    default: return BlocksTiles<4>(x, K, blocks, c_out);
  }
}

}  // namespace

void LinearRowBlocksAmx(const uint16_t* packed, int64_t T, const WeightMatrix& w, int64_t row_begin, int64_t N,
                        float* y, int64_t ldy, bool round_bf16) {
  DSV4_CHECK(AmxActive() && w.row_blocks != nullptr && w.cols % kTileK == 0);
  if (T == 0 || N == 0) return;
  const int64_t K = w.cols;
  const int64_t b_begin = row_begin / kRows, b_end = (row_begin + N + kRows - 1) / kRows;
  const int64_t nblocks = b_end - b_begin;
  // Up to 4 blocks per pass (C tiles 4..7), far apart up to T = 16 (four weight streams
  // per thread, as the decode GEMVs: weight_streams.h), adjacent otherwise.
  constexpr int kPassBlocks = 4;
  const int64_t mt = std::min<int64_t>(T, 16);
  TileConfig config;
  config.rows[0] = config.rows[1] = uint8_t(mt);
  config.colsb[0] = config.colsb[1] = kTileK * 2;
  config.rows[2] = config.rows[3] = kRows;
  config.colsb[2] = config.colsb[3] = 64;
  for (int t = 4; t < 4 + kPassBlocks; ++t) {
    config.rows[t] = uint8_t(mt);
    config.colsb[t] = kRows * 4;
  }
  // One token tile (T <= 16, decode batches) walks far-apart blocks too: the head at T = 16
  // (/tmp/k2/hb.cc, 3 interleaved runs each, min / median ms) 46.2-50.6 / 49.1-56.9 with
  // adjacent blocks, 39.0-47.2 / 41.9-49.9 with streams; 3 more pairs of builds came out
  // inside the machine's noise (T = 1, the same code, ran 30-48 ms in them).
  const bool streams = T <= 16;
  const size_t max_chunk = streams ? std::max<size_t>(4, size_t(nblocks) / (GlobalThreadPool().size() * 16)) : SIZE_MAX;
  ParallelFor(size_t(nblocks), streams ? 1 : 2, [&](size_t c0, size_t c1) {
    UseConfig(config);
    alignas(64) float c_out[kPassBlocks * kRows * kRows];
    auto run = [&](int64_t first, int64_t stride, int nb, int64_t t0, int64_t rows) {
      const uint16_t* blocks[kPassBlocks];
      for (int i = 0; i < nb; ++i) blocks[i] = w.row_blocks + (b_begin + first + i * stride) * kRows * K;
      BlocksTilesN(nb, packed + t0 * K, K, blocks, c_out);
      StoreRowBlockOutputs(c_out, b_begin + first, nb, t0, int(rows), row_begin, N, y, ldy, round_bf16, stride);
    };
    if (streams) {
      ForEachStreamGroup(int64_t(c1 - c0), kPassBlocks, [&](int64_t offset, int64_t stride, int count) {
        run(int64_t(c0) + offset, stride, count, 0, T);
      });
      return;
    }
    for (int64_t b = int64_t(c0); b < int64_t(c1); b += kPassBlocks) {
      const int nb = int(std::min<int64_t>(kPassBlocks, int64_t(c1) - b));
      for (int64_t t0 = 0; t0 < T; t0 += 16) {
        const int64_t rows = std::min<int64_t>(16, T - t0);
        if (rows != mt) {  // the last token tile of a T that is not a multiple of 16
          TileConfig tail = config;
          tail.rows[0] = tail.rows[1] = uint8_t(rows);
          for (int t = 4; t < 4 + kPassBlocks; ++t) tail.rows[t] = uint8_t(rows);
          UseConfig(tail);
          run(b, 1, nb, t0, rows);
          UseConfig(config);
          continue;
        }
        run(b, 1, nb, t0, rows);
      }
    }
  }, max_chunk);
}

}  // namespace dsv4::kernels
