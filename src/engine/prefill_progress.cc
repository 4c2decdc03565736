#include "engine/prefill_progress.h"

#include <chrono>
#include <cstdio>

namespace dsv4 {

std::function<void(int64_t done, int64_t total)> PrefillProgressLogger(std::string label,
                                                                        double min_interval_s) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  return [label = std::move(label), min_interval_s, start, last = start, chunks = 0](
             int64_t done, int64_t total) mutable {
    if (++chunks == 1 && done == total) return;  // a prompt of one chunk: no report
    const Clock::time_point now = Clock::now();
    const double since_last = std::chrono::duration<double>(now - last).count();
    if (done != total && chunks > 1 && since_last < min_interval_s) return;
    last = now;
    const double s = std::chrono::duration<double>(now - start).count();
    std::fprintf(stderr, "%sprefill %lld / %lld tokens (%.1f%%), %.1f s, %.1f tok/s\n", label.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total),
                 100.0 * double(done) / double(total), s, s > 0 ? double(done) / s : 0.0);
  };
}

}  // namespace dsv4
