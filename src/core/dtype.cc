#include "core/dtype.h"


namespace dsv4 {
alignas(64) float kE4m3Table[256];

namespace {

// Fills kE4m3Table before main(): sign, 4 exponent bits (bias 7), 3 mantissa bits.
struct E4m3TableInit {
  E4m3TableInit() {
    for (int c = 0; c < 256; ++c) {
      int sign = c >> 7, exp = (c >> 3) & 15, man = c & 7;
      float v;
      if (exp == 15 && man == 7) {
        v = NAN;
      } else if (exp == 0) {
        v = std::ldexp(float(man), -9);
      } else {
        v = std::ldexp(1.0f + float(man) / 8.0f, exp - 7);
      }
      kE4m3Table[c] = sign ? -v : v;
    }
  }
} e4m3_table_init;

}  // namespace

const float kE2m1Table[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                              -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

uint8_t FloatToE4m3(float x) {
  float r = RoundE4m3(x);
  for (int c = 0; c < 256; ++c) {
    if (kE4m3Table[c] == r && std::signbit(kE4m3Table[c]) == std::signbit(r)) return uint8_t(c);
  }
  return 0;
}

uint8_t FloatToE2m1(float x) {
  float r = RoundE2m1(x);
  for (int c = 0; c < 16; ++c) {
    if (kE2m1Table[c] == r && std::signbit(kE2m1Table[c]) == std::signbit(r)) return uint8_t(c);
  }
  return 0;
}

bool ParseDType(std::string_view name, DType* out) {
  if (name == "BF16") *out = DType::kBF16;
  else if (name == "F32") *out = DType::kF32;
  else if (name == "F8_E4M3") *out = DType::kF8E4M3;
  else if (name == "F8_E8M0") *out = DType::kF8E8M0;
  else if (name == "I8") *out = DType::kI8;
  else if (name == "I64") *out = DType::kI64;
  else return false;
  return true;
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kBF16: return "BF16";
    case DType::kF32: return "F32";
    case DType::kF8E4M3: return "F8_E4M3";
    case DType::kF8E8M0: return "F8_E8M0";
    case DType::kI8: return "I8";
    case DType::kI64: return "I64";
  }
  return "?";
}

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kBF16: return 2;
    case DType::kF32: return 4;
    case DType::kF8E4M3: case DType::kF8E8M0: case DType::kI8: return 1;
    case DType::kI64: return 8;
  }
  return 0;
}

}  // namespace dsv4
