#include "core/bandwidth.h"

#include <algorithm>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "core/huge_page_buffer.h"
#include "core/thread_pool.h"

namespace dsv4 {

namespace {

// n words on 2 MiB pages (HugePageBuffer): page faults and TLB misses would otherwise
// understate the bandwidth the weights can be streamed at.
struct HugeBuffer {
  explicit HugeBuffer(size_t n) : buffer(n * sizeof(uint64_t)) {}
  uint64_t& operator[](size_t i) { return buffer.as<uint64_t>()[i]; }
  HugePageBuffer buffer;
};

}  // namespace

BandwidthResult MeasureBandwidth(size_t bytes, int repeats) {
  const size_t n = bytes / sizeof(uint64_t);
  HugeBuffer src(n), dst(n);
  // Touch every page first so page faults are not timed.
  ParallelFor(n, 1 << 16, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) src[i] = i, dst[i] = 0;
  });
  auto seconds = [](auto&& fn) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  double best_read = 1e30, best_copy = 1e30;
  volatile uint64_t sink = 0;
  for (int r = 0; r < repeats; ++r) {
    best_read = std::min(best_read, seconds([&] {
      std::vector<uint64_t> partial(GlobalThreadPool().size() * 8, 0);
      std::atomic<size_t> slot{0};
      ParallelFor(n, 1 << 16, [&](size_t b, size_t e) {
        uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        size_t i = b;
        for (; i + 4 <= e; i += 4) a0 += src[i], a1 += src[i + 1], a2 += src[i + 2], a3 += src[i + 3];
        for (; i < e; ++i) a0 += src[i];
        partial[slot.fetch_add(1) % partial.size()] += a0 + a1 + a2 + a3;
      });
      for (uint64_t p : partial) sink = sink + p;
    }));
    best_copy = std::min(best_copy, seconds([&] {
      ParallelFor(n, 1 << 16, [&](size_t b, size_t e) {
        std::memcpy(&dst[b], &src[b], (e - b) * sizeof(uint64_t));
      });
    }));
  }
  const double gb = double(n * sizeof(uint64_t)) / 1e9;
  return {gb / best_read, 2 * gb / best_copy};
}

}  // namespace dsv4
