#include "core/bandwidth.h"

#if defined(__x86_64__)
#include <emmintrin.h>  // SSE2 (every x86-64): the non-temporal copy
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
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

double ReadOnce(const void* p, size_t bytes, ReadPattern pattern) {
  const uint64_t* words = static_cast<const uint64_t*>(p);
  const size_t n = bytes / sizeof(uint64_t), threads = GlobalThreadPool().size();
  const size_t streams = size_t(std::max(1, pattern.streams)), ahead = pattern.ahead / sizeof(uint64_t);
  std::vector<uint64_t> partial(threads, 0);
  const auto t0 = std::chrono::steady_clock::now();
  ParallelFor(threads, 1, [&](size_t t_begin, size_t t_end) {
    for (size_t t = t_begin; t < t_end; ++t) {
      const size_t begin = n * t / threads, end = n * (t + 1) / threads;
      const size_t len = (end - begin) / streams / 8 * 8;  // words per stream, whole lines
      uint64_t sum = 0;
      for (size_t i = 0; i < len; i += 8) {
        for (size_t q = 0; q < streams; ++q) {
          const uint64_t* w = words + begin + q * len + i;
          if (ahead > 0) {
            if (pattern.l2) {
              __builtin_prefetch(w + ahead, 0, 2);
            } else {
              __builtin_prefetch(w + ahead, 0, 3);
            }
          }
          sum += w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7];
        }
      }
      for (size_t i = begin + streams * len; i < end; ++i) sum += words[i];  // the tail
      partial[t] = sum;
    }
  });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  static volatile uint64_t sink = 0;
  for (uint64_t v : partial) sink = sink + v;
  return seconds;
}

namespace {

#if defined(__x86_64__)
// Copies n words (n a multiple of 8, both 16-byte aligned) with stores that bypass the
// caches (movntdq), so the copy moves only the bytes it counts; memcpy's ordinary stores
// also read each destination line first.
void StreamCopy(const uint64_t* src, uint64_t* dst, size_t n) {
  for (size_t i = 0; i < n; i += 8) {
    __builtin_prefetch(src + i + 512);  // 4 KiB ahead
    const __m128i* s = reinterpret_cast<const __m128i*>(src + i);
    __m128i* d = reinterpret_cast<__m128i*>(dst + i);
    _mm_stream_si128(d, _mm_load_si128(s));
    _mm_stream_si128(d + 1, _mm_load_si128(s + 1));
    _mm_stream_si128(d + 2, _mm_load_si128(s + 2));
    _mm_stream_si128(d + 3, _mm_load_si128(s + 3));
  }
  _mm_sfence();
}
#endif

}  // namespace

BandwidthResult MeasureBandwidth(size_t bytes, int repeats) {
  const size_t n = bytes / sizeof(uint64_t) / 8 * 8;
  HugeBuffer src(n), dst(n);
  // Touch every page first so page faults are not timed.
  ParallelFor(n, 1 << 16, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) src[i] = i, dst[i] = 0;
  });
  auto seconds = [](auto&& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  double best_read = 1e30, best_copy = 1e30;
  for (int r = 0; r < repeats; ++r) {
    // The decode GEMVs' pattern and one stream per thread: on the 2-core VM either was the
    // faster one, by up to 11%, from run to run (bench/RESULTS.md, eighteenth session).
    best_read = std::min(best_read, ReadOnce(&src[0], n * sizeof(uint64_t)));
    best_read = std::min(best_read, ReadOnce(&src[0], n * sizeof(uint64_t), {.streams = 1}));
    // The copy either way, the faster counting: memcpy, and (x86-64) streaming stores.
    best_copy = std::min(best_copy, seconds([&] {
      ParallelFor(n, 1 << 16, [&](size_t b, size_t e) {
        std::memcpy(&dst[b], &src[b], (e - b) * sizeof(uint64_t));
      });
    }));
#if defined(__x86_64__)
    best_copy = std::min(best_copy, seconds([&] {
      ParallelFor(n / 8, 1 << 13, [&](size_t b, size_t e) { StreamCopy(&src[8 * b], &dst[8 * b], 8 * (e - b)); });
    }));
#endif
  }
  const double gb = double(n * sizeof(uint64_t)) / 1e9;
  return {gb / best_read, 2 * gb / best_copy};
}

}  // namespace dsv4
