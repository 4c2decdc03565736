#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

namespace dsv4 {
namespace {

// How long idle workers and the waiting caller spin before sleeping (DSV4_POOL_SPIN_US
// overrides, for experiments).
int64_t SpinMicros() {
  static const int64_t us = [] {
    const char* env = std::getenv("DSV4_POOL_SPIN_US");
    return env ? int64_t(std::atoll(env)) : int64_t(50);
  }();
  return us;
}

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until done() or SpinMicros() pass; true if done() became true.
template <typename Done>
bool SpinUntil(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(SpinMicros());
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      CpuRelax();
    }
    if (std::chrono::steady_clock::now() > deadline) return done();
  }
}

// Set while this thread runs a chunk of some loop: a ParallelFor from inside a chunk (a
// loop over experts whose matrix products are loops themselves) runs inline on this thread.
thread_local bool tls_in_chunk = false;

}  // namespace

ThreadPool::ThreadPool(size_t threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 1; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::RunChunks() {
  for (;;) {
    size_t c = next_chunk_.fetch_add(1);
    if (c >= num_chunks_) return;
    size_t begin = c * chunk_;
    size_t end = std::min(n_, begin + chunk_);
    tls_in_chunk = true;
    (*fn_)(begin, end);
    tls_in_chunk = false;
  }
}

void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;
  for (;;) {
    if (!SpinUntil([&] { return stop_.load(std::memory_order_relaxed) || generation_.load() != seen; })) {
      worker_sleeps_.fetch_add(1, std::memory_order_relaxed);
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      ++active_;
    }
    RunChunks();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--active_ == 0) done_.notify_all();
    }
  }
}

void ThreadPool::ParallelFor(size_t n, size_t min_chunk, LoopBody fn, size_t max_chunk) {
  if (n == 0) return;
  if (tls_in_chunk) {  // nested: this thread's share of an outer loop
    fn(0, n);
    return;
  }
  min_chunk = std::max<size_t>(1, min_chunk);
  size_t threads = size();
  // About 4 chunks per thread balances uneven work without much overhead.
  size_t chunk = std::max(min_chunk, std::min(max_chunk, (n + threads * 4 - 1) / (threads * 4)));
  if (workers_.empty() || chunk >= n) {
    if (stats_) ++stats_->inline_loops;
    fn(0, n);
    return;
  }
  const auto t0 = stats_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
  {
    std::unique_lock<std::mutex> lock(mu_);
    // A worker that woke late for the previous loop may still be scanning its chunk
    // counter; wait for it so the fields below are not written under its feet.
    done_.wait(lock, [&] { return active_ == 0; });
    fn_ = &fn;
    n_ = n;
    chunk_ = chunk;
    num_chunks_ = (n + chunk - 1) / chunk;
    next_chunk_.store(0);
    ++generation_;
  }
  wake_.notify_all();
  RunChunks();
  // Workers that woke for this generation finish their chunks; late wakers find none left.
  auto finished = [&] { return active_.load() == 0 && next_chunk_.load() >= num_chunks_; };
  SpinUntil(finished);
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, finished);
  fn_ = nullptr;
  if (stats_) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++stats_->parallel_loops;
    stats_->parallel_seconds += seconds;
    if (stats_->record_loops) stats_->loops.emplace_back(n, seconds);
  }
}

ThreadPool& GlobalThreadPool() {
  static ThreadPool pool([] {
    const char* env = std::getenv("DSV4_THREADS");
    return env ? size_t(std::atoi(env)) : size_t(0);
  }());
  return pool;
}

}  // namespace dsv4
