// AMX tile plumbing shared by the AMX translation units (linear_amx.cc,
// attention_amx.cc): include only from files compiled for AMX-BF16. Callers check
// AmxActive() (kernels/linear_amx.h) first.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

namespace dsv4::kernels {

// The tile configuration (palette 1), loaded per thread when it changes (one record per
// thread for every AMX file: an inline function's thread_local is one per program).
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
inline void UseConfig(const TileConfig& config) {
  thread_local TileConfig loaded{};
  thread_local bool any = false;
  if (any && std::memcmp(&loaded, &config, sizeof(TileConfig)) == 0) return;
  _tile_loadconfig(&config);
  loaded = config;
  any = true;
}

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

}  // namespace dsv4::kernels
