// AMX-BF16 products (kernels/linear_amx.h); this file alone is compiled for AMX.
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/status.h"
#include "core/thread_pool.h"
#include "kernels/bf16_row_blocks.h"
#include "kernels/isa.h"
#include "kernels/linear_amx.h"
#include "kernels/weight_streams.h"

namespace dsv4::kernels {
namespace {

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
    const bool cpu = __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16");
    return cpu && syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return ok;
}

// The tile configuration (palette 1), loaded per thread when it changes.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
void UseConfig(const TileConfig& config) {
  thread_local TileConfig loaded{};
  thread_local bool any = false;
  if (any && std::memcmp(&loaded, &config, sizeof(TileConfig)) == 0) return;
  _tile_loadconfig(&config);
  loaded = config;
  any = true;
}

// ---- tiles ----

// Tile registers: tmm0-1 A, tmm2-3 B, tmm4-7 C. A tile register is not renamed: a load
// into one waits for the products still reading it, so consecutive products alternate
// registers, and a pass keeps up to 4 independent C tiles in flight.
constexpr int kCTiles = 4;

// GCC's tile intrinsics paste their tile numbers into the instruction text, so each
// register's operations are spelled out once here for the templates to pick.
template <int N>
struct Tmm;
#define DSV4_TMM(N)                                                                 \
  template <>                                                                       \
  struct Tmm<N> {                                                                   \
    static void Zero() { _tile_zero(N); }                                           \
    static void Load(const void* p, int64_t stride) { _tile_loadd(N, p, stride); }  \
    static void Store(void* p, int64_t stride) { _tile_stored(N, p, stride); }      \
    template <int A, int B>                                                         \
    static void Dp() {                                                              \
      static_assert(A >= 0 && A <= 1 && B >= 2 && B <= 3);                          \
      if constexpr (A == 0 && B == 2) _tile_dpbf16ps(N, 0, 2);                      \
      if constexpr (A == 0 && B == 3) _tile_dpbf16ps(N, 0, 3);                      \
      if constexpr (A == 1 && B == 2) _tile_dpbf16ps(N, 1, 2);                      \
      if constexpr (A == 1 && B == 3) _tile_dpbf16ps(N, 1, 3);                      \
    }                                                                               \
  };
DSV4_TMM(0)
DSV4_TMM(1)
DSV4_TMM(2)
DSV4_TMM(3)
DSV4_TMM(4)
DSV4_TMM(5)
DSV4_TMM(6)
DSV4_TMM(7)
#undef DSV4_TMM

// f(integral_constant<int, 0>) .. f(integral_constant<int, N - 1>): compile-time indices
// for the tile numbers.
template <int N, typename F>
inline void Unroll(F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) { (f(std::integral_constant<int, I>{}), ...); }(
      std::make_integer_sequence<int, N>{});
}

}  // namespace

bool AmxActive() {
  static const bool active = IsaAllowsAmx() && AmxSupported();
  return active;
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
  // (/tmp/k2/hb.cc, 3 interleaved pairs, min / median ms) 46.2-50.3 / 49.1-53.2 with
  // adjacent blocks, 39.0-46.3 / 41.9-47.7 with streams; 3 more pairs of builds came out
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
