#include "kernels/indexer_score.h"

#include <algorithm>
#include <cstring>

#include "kernels/isa.h"

namespace dsv4::kernels {

KeyGroups::KeyGroups(const uint8_t* codes, const uint8_t* scales, int64_t n, int64_t dim, int64_t group)
    : codes_(codes), scales_(scales), n_(n), row_(dim / 2), blocks_(dim / 32), group_(group) {}

int64_t KeyGroups::At(int64_t j0, const uint8_t** codes, const uint8_t** scales) {
  const int64_t valid = std::min(group_, n_ - j0);
  *codes = codes_ + j0 * row_;
  *scales = scales_ + j0 * blocks_;
  if (valid < group_) {  // zero-padded copy of the last keys
    // Kept per thread (one kernel call at a time per thread uses them): no heap
    // allocation per call once they have grown.
    thread_local std::vector<uint8_t> tail_codes, tail_scales;
    tail_codes.assign(size_t(group_ * row_), uint8_t(0));
    tail_scales.assign(size_t(group_ * blocks_), uint8_t(127));
    std::memcpy(tail_codes.data(), *codes, size_t(valid * row_));
    std::memcpy(tail_scales.data(), *scales, size_t(valid * blocks_));
    *codes = tail_codes.data();
    *scales = tail_scales.data();
  }
  return valid;
}

IndexerScoreFn ActiveIndexerScore(const Fp4IndexQuery& q) {
  static const IndexerScoreFn avx512 = IsaAllowsAvx512() ? IndexerScoreFp4Avx512() : nullptr;
  static const IndexerScoreFn avx2 = IsaAllowsAvx2() ? IndexerScoreFp4Avx2() : nullptr;
  // Exact in every mode, so precise mode may use the fast kernels too.
  if (avx512 && q.dim % 32 == 0) return avx512;
  if (avx2 && q.dim % 64 == 0) return avx2;
  return IndexerScoreFp4Ref;
}

}  // namespace dsv4::kernels
