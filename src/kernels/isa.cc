#include "kernels/isa.h"

#include <cstdlib>
#include <cstring>

namespace dsv4::kernels {
namespace {

enum class Cap { kRef, kAvx2, kAvx512, kBest };

Cap CapFromEnv() {
  static const Cap cap = [] {
    const char* isa = std::getenv("DSV4_ISA");
    if (isa && std::strcmp(isa, "ref") == 0) return Cap::kRef;
    if (isa && std::strcmp(isa, "avx2") == 0) return Cap::kAvx2;
    if (isa && std::strcmp(isa, "avx512") == 0) return Cap::kAvx512;
    return Cap::kBest;
  }();
  return cap;
}

}  // namespace

bool IsaAllowsAvx2() { return CapFromEnv() != Cap::kRef; }
bool IsaAllowsAvx512() { return CapFromEnv() >= Cap::kAvx512; }
bool IsaAllowsAmx() { return CapFromEnv() == Cap::kBest; }

}  // namespace dsv4::kernels
