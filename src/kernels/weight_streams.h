// How decode GEMVs split a range of weight rows into streams far apart (gemv.h, dot.h
// e4m3_weight_rows / e2m1_weight_rows): rows i, q + i, 2q + i, ... (q = n / streams) are
// taken together, so each stream walks its own part of the matrix front to back; on the
// development VM that kept more DRAM pages and prefetch streams busy than adjacent rows
// (bench/README.md). The rows left over (n % streams) come one at a time. FP8 rows are
// grouped within each 128-row block instead (ForEachStreamGroupInBlocks), so a group's
// rows share their scales.
#pragma once

#include <algorithm>
#include <cstdint>

namespace dsv4::kernels {

// Calls fn(first, stride, count) for rows first + i * stride, i < count: count = streams
// (stride q) for first in [0, q), then count = 1 (stride 0) for each row left over.
template <typename Fn>
inline void ForEachStreamGroup(int64_t n, int streams, Fn&& fn) {
  const int64_t q = n / streams;
  for (int64_t i = 0; i < q; ++i) fn(i, q, streams);
  for (int64_t r = q * streams; r < n; ++r) fn(r, int64_t(0), 1);
}

// ForEachStreamGroup over rows first..first + n - 1 of a matrix cut at the multiples of
// `block` (row numbers of the matrix), so that every group's rows lie in one block (FP8:
// one row of scale blocks); fn(offset, stride, count) with offset counted from first.
template <typename Fn>
inline void ForEachStreamGroupInBlocks(int64_t first, int64_t n, int64_t block, int streams, Fn&& fn) {
  for (int64_t s0 = 0; s0 < n;) {
    const int64_t s1 = std::min(n, ((first + s0) / block + 1) * block - first);
    ForEachStreamGroup(s1 - s0, streams, [&](int64_t offset, int64_t stride, int count) { fn(s0 + offset, stride, count); });
    s0 = s1;
  }
}

}  // namespace dsv4::kernels
