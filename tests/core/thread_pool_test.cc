// ThreadPool::ParallelFor: every index is visited exactly once, for many back-to-back
// loops (the decode pattern the spinning hand-off serves) and for pools of several sizes.
#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace dsv4 {
namespace {

void ExpectEachIndexOnce(ThreadPool& pool, size_t n, size_t min_chunk, size_t max_chunk = SIZE_MAX) {
  std::vector<std::atomic<int>> hits(n);
  pool.ParallelFor(n, min_chunk, [&](size_t b, size_t e) {
    ASSERT_LE(b, e);
    ASSERT_LE(e, n);
    if (pool.size() > 1 && max_chunk >= min_chunk) {
      ASSERT_LE(e - b, max_chunk);
    }
    for (size_t i = b; i < e; ++i) hits[i].fetch_add(1);
  }, max_chunk);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i << " of " << n;
}

TEST(ThreadPoolTest, EveryIndexOnceForManySizes) {
  for (size_t threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (size_t n : {0, 1, 2, 7, 64, 1000, 4097}) {
      for (size_t min_chunk : {1, 4, 100}) ExpectEachIndexOnce(pool, n, min_chunk);
      ExpectEachIndexOnce(pool, n, 1, 1);  // one index per chunk
      ExpectEachIndexOnce(pool, n, 1, 3);
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

// A loop inside a chunk (experts in parallel, each expert's matrix products loops too) runs
// inline on the chunk's thread: every inner index once, no deadlock, outer loops still split.
TEST(ThreadPoolTest, NestedLoopsRunInlineOnTheChunksThread) {
  ThreadPool pool(3);
  constexpr size_t kOuter = 24, kInner = 100;
  std::vector<std::atomic<int>> hits(kOuter * kInner);
  std::atomic<int> foreign_thread{0};
  std::mutex mu;
  std::vector<std::thread::id> outer_threads;
  pool.ParallelFor(kOuter, 1, [&](size_t b, size_t e) {
    {
      std::lock_guard<std::mutex> lock(mu);
      outer_threads.push_back(std::this_thread::get_id());
    }
    for (size_t o = b; o < e; ++o) {
      const std::thread::id me = std::this_thread::get_id();
      pool.ParallelFor(kInner, 1, [&](size_t ib, size_t ie) {
        if (std::this_thread::get_id() != me) foreign_thread.fetch_add(1);
        for (size_t i = ib; i < ie; ++i) hits[o * kInner + i].fetch_add(1);
      });
    }
  });
  for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i;
  EXPECT_EQ(foreign_thread.load(), 0);
  EXPECT_GT(outer_threads.size(), 1u);  // the outer loop was split into chunks
  ExpectEachIndexOnce(pool, 1000, 1);   // and the pool still splits top-level loops
}

}  // namespace
}  // namespace dsv4
