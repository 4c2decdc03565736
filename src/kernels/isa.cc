#include "kernels/isa.h"

#include <cstdlib>
#include <cstring>

namespace dsv4::kernels {
namespace {

enum class Cap { kRef, kAvx2, kBest };

Cap CapFromEnv() {
  static const Cap cap = [] {
    const char* isa = std::getenv("DSV4_ISA");
    if (isa && std::strcmp(isa, "ref") == 0) return Cap::kRef;
    if (isa && std::strcmp(isa, "avx2") == 0) return Cap::kAvx2;
    return Cap::kBest;
  }();
  return cap;
}

}  // namespace

bool IsaAllowsAvx2() { return CapFromEnv() != Cap::kRef; }
bool IsaAllowsAvx512() { return CapFromEnv() == Cap::kBest; }

}  // namespace dsv4::kernels
