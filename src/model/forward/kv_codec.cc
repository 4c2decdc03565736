#include "model/forward/kv_codec.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/e4m3_bf16.h"
#include "model/forward/ops.h"

namespace dsv4 {
namespace {

constexpr int64_t kFp8Block = 64, kFp4Block = 32;

[[noreturn]] void OffGrid(const char* what, float v) {
  throw Error(std::string("compact cache: value ") + std::to_string(v) + " is not on the " + what +
              " grid (compact KV storage needs activation quantisation on)");
}

}  // namespace

uint8_t Ue8m0Code(float pow2) {
  if (pow2 == std::ldexp(1.0f, -127)) return 0;
  const uint32_t u = std::bit_cast<uint32_t>(pow2);
  if ((u & 0x7fffffu) != 0 || pow2 <= 0.0f || !std::isfinite(pow2)) OffGrid("ue8m0", pow2);
  return uint8_t(u >> 23);
}

uint8_t ExactE4m3Code(float v) {
  const uint8_t sign = std::signbit(v) ? 0x80 : 0;
  const float a = std::fabs(v);
  uint8_t code;
  if (a < 0.015625f) {  // zero or subnormal: m · 2^-9
    const float m = a * 512.0f;
    if (m != std::floor(m)) OffGrid("e4m3", v);
    code = uint8_t(m);
  } else {
    const uint32_t u = std::bit_cast<uint32_t>(a);
    const int32_t e = int32_t(u >> 23) - 127;
    if ((u & 0xfffffu) != 0 || e > 8 || a > 448.0f) OffGrid("e4m3", v);
    code = uint8_t(((e + 7) << 3) | ((u >> 20) & 7));
  }
  return uint8_t(sign | code);
}

uint8_t ExactE2m1Code(float v) {
  const float a = std::fabs(v);
  // Codes 0..7 decode to 0, .5, 1, 1.5, 2, 3, 4, 6.
  static constexpr float kGrid[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  for (uint8_t c = 0; c < 8; ++c) {
    if (kGrid[c] == a) return uint8_t((std::signbit(v) ? 8 : 0) | c);
  }
  OffGrid("e2m1", v);
}

int64_t Fp8EntryBytes(int64_t dim, int64_t rope_dim) {
  const int64_t nope = dim - rope_dim;
  return (nope + 2 * rope_dim + nope / kFp8Block + 7) / 8 * 8;
}

void EncodeFp8Entry(const float* v, int64_t dim, int64_t rope_dim, uint8_t* out) {
  const int64_t nope = dim - rope_dim;
  Require(nope % kFp8Block == 0, "compact cache: non-rope dims must be a multiple of 64");
  uint8_t* scales = out + nope + 2 * rope_dim;
  for (int64_t b = 0; b < nope; b += kFp8Block) {
    // The scale of the quantised values (possibly half the original block's scale when
    // the block maximum rounded down; the codes are then still exact).
    const float s = Fp8Scale(AbsMax(v + b, kFp8Block));
    scales[b / kFp8Block] = Ue8m0Code(s);
    for (int64_t i = b; i < b + kFp8Block; ++i) out[i] = ExactE4m3Code(v[i] / s);
  }
  uint16_t* rope = reinterpret_cast<uint16_t*>(out + nope);
  for (int64_t i = 0; i < rope_dim; ++i) {
    rope[i] = FloatToBf16(v[nope + i]);
    if (Bf16ToFloat(rope[i]) != v[nope + i]) OffGrid("bf16", v[nope + i]);
  }
  std::fill(scales + nope / kFp8Block, out + Fp8EntryBytes(dim, rope_dim), uint8_t(0));
}

void DecodeFp8Entry(const uint8_t* in, int64_t dim, int64_t rope_dim, uint16_t* out) {
  const int64_t nope = dim - rope_dim;
  const uint8_t* scales = in + nope + 2 * rope_dim;
  const kernels::E4m3ToBf16Fn widen = kernels::ActiveE4m3ToBf16();
  for (int64_t b = 0; b < nope; b += kFp8Block) widen(in + b, kFp8Block, Ue8m0ToFloat(scales[b / kFp8Block]), out + b);
  const uint16_t* rope = reinterpret_cast<const uint16_t*>(in + nope);
  std::copy(rope, rope + rope_dim, out + nope);
}

namespace {

// The e2m1 codes of v[i] / s for one block (ExactE2m1Code's, without its search and
// branches, so that the loop vectorises: the indexer encodes every query head with it);
// false, codes unset, if a value is off the grid (RoundE2m1 moves it).
__attribute__((optimize("vect-cost-model=dynamic"))) bool E2m1BlockCodes(const float* v, float s, uint8_t* codes) {
  int32_t c[kFp4Block];  // (selects on 32-bit lanes: bool conversions stop the vectoriser)
  int32_t off_grid = 0;
  for (int64_t i = 0; i < kFp4Block; ++i) {
    const float x = v[i] / s, a = std::fabs(x);
    off_grid |= RoundE2m1(x) != x ? 1 : 0;
    c[i] = int32_t(std::bit_cast<uint32_t>(x) >> 31) * 8 + (a >= 0.5f ? 1 : 0) + (a >= 1.0f ? 1 : 0) +
           (a >= 1.5f ? 1 : 0) + (a >= 2.0f ? 1 : 0) + (a >= 3.0f ? 1 : 0) + (a >= 4.0f ? 1 : 0) + (a >= 6.0f ? 1 : 0);
  }
  if (off_grid != 0) return false;
  for (int64_t i = 0; i < kFp4Block; i += 2) codes[i / 2] = uint8_t(c[i] | (c[i + 1] << 4));
  return true;
}

}  // namespace

void EncodeFp4Key(const float* v, int64_t dim, uint8_t* codes, uint8_t* scales) {
  Require(dim % kFp4Block == 0, "compact cache: indexer key dims must be a multiple of 32");
  for (int64_t b = 0; b < dim; b += kFp4Block) {
    const float s = Fp4Scale(AbsMax(v + b, kFp4Block));
    scales[b / kFp4Block] = Ue8m0Code(s);
    if (E2m1BlockCodes(v + b, s, codes + b / 2)) continue;
    for (int64_t i = b; i < b + kFp4Block; ++i) ExactE2m1Code(v[i] / s);  // names the value off the grid
    DSV4_CHECK(false);  // (unreachable: E2m1BlockCodes found one)
  }
}

void DecodeFp4Key(const uint8_t* codes, const uint8_t* scales, int64_t dim, float* out) {
  for (int64_t i = 0; i < dim; ++i) {
    const uint8_t nib = (i & 1) ? uint8_t(codes[i / 2] >> 4) : uint8_t(codes[i / 2] & 15);
    out[i] = E2m1ToFloat(nib) * Ue8m0ToFloat(scales[i / kFp4Block]);
  }
}

}  // namespace dsv4
