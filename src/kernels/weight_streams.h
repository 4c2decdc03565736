// How decode GEMVs split a range of weight rows into streams far apart (gemv.h, dot.h
// e4m3_weight_rows / e2m1_weight_rows): rows i, q + i, 2q + i, ... (q = n / streams) are
// taken together, so each stream walks its own part of the matrix front to back; on the
// development VM that kept more DRAM pages and prefetch streams busy than adjacent rows
// (bench/README.md). The rows left over (n % streams) come one at a time.
#pragma once

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

}  // namespace dsv4::kernels
