// Heap-allocation counting for measurement binaries (tests/model/hot_path_alloc_test,
// bench/decode_profile): alloc_counter.cc replaces the process's operator new / delete
// with versions that count, on every thread, while counting is on. It is its own CMake
// object library (dsv4_alloc_counter), linked only into those binaries, never into the
// engine. DSV4_TRACE_ALLOC=1 also prints each counted allocation's call stack to stderr.
#pragma once

#include <cstdint>

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

}  // namespace dsv4::alloc_counter
