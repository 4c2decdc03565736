// Heap-allocation counting for measurement binaries (tests/model/hot_path_alloc_test,
// bench/decode_profile): alloc_counter.cc replaces the process's operator new / delete
// with versions that count, on every thread, while counting is on. It is its own CMake
// object library (dsv4_alloc_counter), linked only into those binaries, never into the
// engine. DSV4_TRACE_ALLOC=1 also prints each counted allocation's call stack to stderr.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dsv4::alloc_counter {

// Counting on or off (process-wide).
void SetCounting(bool on);
// Allocations counted since the process started.
int64_t Count();

// Heap allocations (on any thread) while fn runs.
template <typename Fn>
int64_t During(Fn&& fn) {
  const int64_t before = Count();
  SetCounting(true);
  fn();
  SetCounting(false);
  return Count() - before;
}

// The allocations of each of n calls of fn (steady-state checks: how many calls
// allocated at all, rather than a total that one-off growth can dominate).
template <typename Fn>
std::vector<int64_t> PerCall(int n, Fn&& fn) {
  std::vector<int64_t> counts;
  counts.reserve(size_t(n));
  for (int i = 0; i < n; ++i) counts.push_back(During(fn));
  return counts;
}

// How many of PerCall's calls allocated.
int64_t CallsThatAllocated(const std::vector<int64_t>& counts);

// "3 steps of 64 allocated (heap allocations each: 0 0 5 0 ...)", for a test's message;
// `what` names the calls.
std::string Describe(const std::vector<int64_t>& counts, const char* what);

}  // namespace dsv4::alloc_counter
