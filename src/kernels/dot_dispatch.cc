// Chooses the dot kernels: the best SIMD set for this CPU, or the scalar reference in
// precise mode (or with DSV4_ISA=ref).
#include <atomic>

#include "core/env_switch.h"
#include "kernels/dot.h"
#include "kernels/isa.h"
#include "kernels/precision.h"

namespace dsv4::kernels {
namespace {

std::atomic<bool>& PreciseFlag() {
  static std::atomic<bool> flag(EnvSwitch("DSV4_PRECISE", false));
  return flag;
}

const DotKernels& FastDotKernels() {
  static const DotKernels* fast = [] {
    return ChooseByIsa<const DotKernels*>(&RefDotKernels(), Avx512DotKernels(), Avx2DotKernels());
  }();
  return *fast;
}

}  // namespace

void SetPreciseMath(bool precise) { PreciseFlag().store(precise); }
bool PreciseMath() { return PreciseFlag().load(std::memory_order_relaxed); }

namespace {
std::atomic<bool>& BatchInvariantFlag() {
  static std::atomic<bool> flag(EnvSwitch("DSV4_BATCH_INVARIANT", true));
  return flag;
}
}  // namespace

void SetBatchInvariant(bool invariant) { BatchInvariantFlag().store(invariant); }
bool BatchInvariant() { return BatchInvariantFlag().load(std::memory_order_relaxed); }

const DotKernels& ActiveDotKernels() {
  return PreciseMath() ? RefDotKernels() : FastDotKernels();
}

}  // namespace dsv4::kernels
