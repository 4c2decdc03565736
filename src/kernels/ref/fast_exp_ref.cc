// The scalar definition of FastExp (kernels/fast_exp.h).
#include <bit>
#include <cmath>
#include <cstdint>

#include "kernels/fast_exp.h"

namespace dsv4::kernels {

float FastExp(float x) {
  using namespace fast_exp;
  if (x > kMax) return INFINITY;
  if (x < kMin) return 0.0f;
  if (std::isnan(x)) return x;
  const float n = std::nearbyint(x * kLog2e);
  float r = std::fma(-n, kLn2Hi, x);
  r = std::fma(-n, kLn2Lo, r);
  float y = kPoly[0];
  for (int i = 1; i < 6; ++i) y = std::fma(y, r, kPoly[i]);
  y = std::fma(y, r * r, r) + 1.0f;
  // y is in [0.7, 1.5] and n in [-124, 127]: an exact product, never subnormal.
  return y * std::bit_cast<float>(uint32_t(int32_t(n) + 127) << 23);
}

}  // namespace dsv4::kernels
