// ThreadPool::ParallelFor: every index is visited exactly once, for many back-to-back
// loops (the decode pattern the spinning hand-off serves) and for pools of several sizes.
#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace dsv4 {
namespace {

void ExpectEachIndexOnce(ThreadPool& pool, size_t n, size_t min_chunk) {
  std::vector<std::atomic<int>> hits(n);
  pool.ParallelFor(n, min_chunk, [&](size_t b, size_t e) {
    ASSERT_LE(b, e);
    ASSERT_LE(e, n);
    for (size_t i = b; i < e; ++i) hits[i].fetch_add(1);
  });
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i << " of " << n;
}

TEST(ThreadPoolTest, EveryIndexOnceForManySizes) {
  for (size_t threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (size_t n : {0, 1, 2, 7, 64, 1000, 4097}) {
      for (size_t min_chunk : {1, 4, 100}) ExpectEachIndexOnce(pool, n, min_chunk);
    }
  }
}

TEST(ThreadPoolTest, ManyBackToBackLoops) {
  ThreadPool pool(4);
  std::atomic<int64_t> sum{0};
  for (int loop = 0; loop < 2000; ++loop) {
    pool.ParallelFor(64, 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) sum.fetch_add(int64_t(i));
    });
  }
  EXPECT_EQ(sum.load(), 2000 * (63 * 64 / 2));
}

// Loops separated by pauses longer than the spin window: workers must wake from sleep.
TEST(ThreadPoolTest, LoopsAfterIdlePauses) {
  ThreadPool pool(3);
  for (int loop = 0; loop < 5; ++loop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ExpectEachIndexOnce(pool, 300, 1);
  }
}

}  // namespace
}  // namespace dsv4
