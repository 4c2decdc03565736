// Storage dtypes of the checkpoints and the exact rounding operators the V4
// reference simulates (spec §2). All roundings are round-to-nearest-even.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace dsv4 {

// Safetensors dtypes that V4 checkpoints use.
enum class DType { kBF16, kF32, kF8E4M3, kF8E8M0, kI8, kI64 };

// "BF16" -> kBF16 etc. Returns false for anything else.
bool ParseDType(std::string_view name, DType* out);
const char* DTypeName(DType dtype);
size_t DTypeSize(DType dtype);

// ---- bf16 ----
inline float Bf16ToFloat(uint16_t bits) { return std::bit_cast<float>(uint32_t(bits) << 16); }
inline uint16_t FloatToBf16(float x) {
  uint32_t u = std::bit_cast<uint32_t>(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
// Rounds an fp32 value to the nearest bf16 value (RNE), returned as fp32.
inline float RoundBf16(float x) { return Bf16ToFloat(FloatToBf16(x)); }

// ---- fp8 e4m3fn ----
extern float kE4m3Table[256];  // filled at static initialisation
inline float E4m3ToFloat(uint8_t code) { return kE4m3Table[code]; }
// Rounds to the e4m3fn grid (RNE), saturating at +-448. Input must not be NaN.
inline float RoundE4m3(float x) {
  float a = std::fabs(x);
  if (a > 448.0f) a = 448.0f;
  float r;
  if (a < 0.015625f) {  // below min normal 2^-6: uniform grid of 2^-9
    r = std::nearbyint(a * 512.0f) * (1.0f / 512.0f);
  } else {  // keep 3 mantissa bits
    uint32_t u = std::bit_cast<uint32_t>(a);
    u += 0x7ffffu + ((u >> 20) & 1u);
    u &= ~0xfffffu;
    r = std::bit_cast<float>(u);
  }
  return std::signbit(x) ? -r : r;
}
uint8_t FloatToE4m3(float x);  // encode an exactly representable value

// ---- fp4 e2m1 ----
extern const float kE2m1Table[16];
inline float E2m1ToFloat(uint8_t nibble) { return kE2m1Table[nibble & 15]; }
// Rounds to the e2m1 grid {0,.5,1,1.5,2,3,4,6} with ties to the even code, saturating at 6
// (a NaN gives 6 with its sign). The grid steps each threshold passes, added up (exact),
// rather than a chain of branches: loops over blocks of it vectorise.
inline float RoundE2m1(float x) {
  const float a = std::fabs(x);
  const float r = (a <= 0.25f ? 0.0f : 0.5f) + (a < 0.75f ? 0.0f : 0.5f) + (a <= 1.25f ? 0.0f : 0.5f) +
                  (a < 1.75f ? 0.0f : 0.5f) + (a <= 2.5f ? 0.0f : 1.0f) + (a < 3.5f ? 0.0f : 1.0f) +
                  (a <= 5.0f ? 0.0f : 2.0f);
  return std::copysign(r, x);
}
uint8_t FloatToE2m1(float x);  // encode an exactly representable value

// ---- ue8m0 ----
inline float Ue8m0ToFloat(uint8_t e) {
  if (e == 0) return std::ldexp(1.0f, -127);
  return std::bit_cast<float>(uint32_t(e) << 23);
}

// Power-of-two block scale (spec §2.3): smallest 2^k >= fp32(max(amax, amin) * inv_max).
inline float Pow2Scale(float amax, float amin, float inv_max) {
  float a = amax > amin ? amax : amin;
  float t = a * inv_max;
  uint32_t u = std::bit_cast<uint32_t>(t);
  int32_t e = int32_t((u >> 23) & 0xff) - 127 + ((u & 0x7fffffu) != 0 ? 1 : 0);
  // 2^e directly where it is a normal float (ldexp, a libm call, was a third of the SIMD
  // FP8 activation quantisation's time); the rest (only e = 128: inf) as before.
  if (e >= -126 && e <= 127) return std::bit_cast<float>(uint32_t(e + 127) << 23);
  return std::ldexp(1.0f, e);
}
constexpr float kFp8Max = 448.0f;
constexpr float kFp8AmaxMin = 1e-4f;
constexpr float kFp4Max = 6.0f;
// 6 * 2^-126
inline float Fp4AmaxMin() { return 6.0f * std::ldexp(1.0f, -126); }
inline float Fp8Scale(float amax) { return Pow2Scale(amax, kFp8AmaxMin, 1.0f / 448.0f); }
inline float Fp4Scale(float amax) { return Pow2Scale(amax, Fp4AmaxMin(), 1.0f / 6.0f); }

}  // namespace dsv4
