#include "kernels/indexer_score.h"

#include <cstdlib>
#include <cstring>

namespace dsv4::kernels {

IndexerScoreFn ActiveIndexerScore(const Fp4IndexQuery& q) {
  static const IndexerScoreFn fast = [] {
    const char* isa = std::getenv("DSV4_ISA");
    if (isa && std::strcmp(isa, "ref") == 0) return IndexerScoreFn(nullptr);
    return IndexerScoreFp4Avx2();
  }();
  // Exact in every mode, so precise mode may use the fast kernel too.
  if (fast && q.dim % 64 == 0) return fast;
  return IndexerScoreFp4Ref;
}

}  // namespace dsv4::kernels
