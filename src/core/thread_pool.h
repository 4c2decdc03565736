// A fixed pool of worker threads for data-parallel loops over the big matrix work.
// Threading: ParallelFor may be called from one thread at a time per pool (the
// engine thread); the calling thread works too and returns when all chunks are done.
// A ParallelFor called from inside a chunk runs inline on the calling thread.
// A decode step issues ~100 short loops (a few hundred microseconds each), so idle
// workers and the waiting caller spin briefly (kSpinMicros) before sleeping on the
// condition variables: a futex wake-up per loop would cost tens of microseconds.
// A loop's body is taken by reference (absl::FunctionRef), not as a std::function: a
// lambda capturing more than two pointers made std::function allocate on the heap, one
// allocation per loop, ~100 per decode step (issue 6: no allocation in the hot path).
#pragma once

#include <absl/functional/function_ref.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace dsv4 {

// Accounting of the loops a pool runs, for profiling tools (bench/decode_profile): the
// wall time spent inside loops handed to the workers, and how many there were; loops
// too small to split (run inline by the caller) are only counted.
struct PoolLoopStats {
  int64_t parallel_loops = 0;
  int64_t inline_loops = 0;
  double parallel_seconds = 0;
  // When record_loops: (n, seconds) of each parallel loop, in order.
  bool record_loops = false;
  std::vector<std::pair<size_t, double>> loops;
};

// A loop body: fn(begin, end). Refers to the caller's callable, which outlives the loop.
using LoopBody = absl::FunctionRef<void(size_t, size_t)>;

class ThreadPool {
 public:
  // threads = total workers including the caller; 0 = hardware concurrency.
  explicit ThreadPool(size_t threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return workers_.size() + 1; }

  // Calls fn(begin, end) over [0, n) split into chunks of at least min_chunk items.
  // max_chunk caps the chunk size when the loop is split (default ~4 chunks per thread):
  // 1 for a few dozen tasks of uneven cost, handed out one at a time. A pool without
  // workers runs the whole range as one call.
  void ParallelFor(size_t n, size_t min_chunk, LoopBody fn, size_t max_chunk = SIZE_MAX);

  // While set (non-null), every ParallelFor adds to *stats (same thread as ParallelFor).
  void set_loop_stats(PoolLoopStats* stats) { stats_ = stats; }
  // Times a worker went to sleep (spin window over with no new loop), since creation.
  int64_t worker_sleeps() const { return worker_sleeps_.load(std::memory_order_relaxed); }

 private:
  void WorkerLoop();
  void RunChunks();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const LoopBody* fn_ = nullptr;  // the current loop's body (ParallelFor's argument)
  size_t n_ = 0, chunk_ = 1, num_chunks_ = 0;
  std::atomic<size_t> next_chunk_{0};
  std::atomic<size_t> active_{0};        // workers inside the current loop (changed under mu_)
  std::atomic<uint64_t> generation_{0};  // one per loop (changed under mu_)
  std::atomic<bool> stop_{false};
  PoolLoopStats* stats_ = nullptr;
  std::atomic<int64_t> worker_sleeps_{0};
};

// The process-wide pool (sized by DSV4_THREADS or the hardware).
ThreadPool& GlobalThreadPool();

inline void ParallelFor(size_t n, size_t min_chunk, LoopBody fn, size_t max_chunk = SIZE_MAX) {
  GlobalThreadPool().ParallelFor(n, min_chunk, fn, max_chunk);
}

}  // namespace dsv4
