#include "kernels/indexer_score.h"

#include <cstdlib>
#include <cstring>

namespace dsv4::kernels {

IndexerScoreFn ActiveIndexerScore(const Fp4IndexQuery& q) {
  static const IndexerScoreFn avx512 = [] {
    const char* isa = std::getenv("DSV4_ISA");
    if (isa && (std::strcmp(isa, "ref") == 0 || std::strcmp(isa, "avx2") == 0)) return IndexerScoreFn(nullptr);
    return IndexerScoreFp4Avx512();
  }();
  static const IndexerScoreFn avx2 = [] {
    const char* isa = std::getenv("DSV4_ISA");
    if (isa && std::strcmp(isa, "ref") == 0) return IndexerScoreFn(nullptr);
    return IndexerScoreFp4Avx2();
  }();
  // Exact in every mode, so precise mode may use the fast kernels too.
  if (avx512 && q.dim % 32 == 0) return avx512;
  if (avx2 && q.dim % 64 == 0) return avx2;
  return IndexerScoreFp4Ref;
}

}  // namespace dsv4::kernels
