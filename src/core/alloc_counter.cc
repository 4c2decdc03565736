#include "core/alloc_counter.h"

#include <execinfo.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace dsv4::alloc_counter {
namespace {

std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_count{0};
thread_local bool t_tracing = false;  // inside the trace printer (backtrace allocates)

void Note() {
  if (!g_counting.load(std::memory_order_relaxed)) return;
  g_count.fetch_add(1, std::memory_order_relaxed);
  static const bool trace = std::getenv("DSV4_TRACE_ALLOC") != nullptr;
  if (trace && !t_tracing) {
    t_tracing = true;
    void* frames[16];
    const int n = backtrace(frames, 16);
    static const char kHeader[] = "-- allocation while counting:\n";
    (void)!write(2, kHeader, sizeof(kHeader) - 1);
    backtrace_symbols_fd(frames + 1, n - 1, 2);
    t_tracing = false;
  }
}

void* Allocate(size_t size, size_t align) {
  Note();
  return align <= alignof(std::max_align_t) ? std::malloc(size == 0 ? 1 : size)
                                            : std::aligned_alloc(align, (size + align - 1) / align * align);
}

}  // namespace

void SetCounting(bool on) { g_counting.store(on); }
int64_t Count() { return g_count.load(); }

int64_t CallsThatAllocated(const std::vector<int64_t>& counts) {
  return std::count_if(counts.begin(), counts.end(), [](int64_t n) { return n > 0; });
}

std::string Describe(const std::vector<int64_t>& counts, const char* what) {
  std::string list;
  for (int64_t n : counts) list += " " + std::to_string(n);
  return std::to_string(CallsThatAllocated(counts)) + " " + what + " of " + std::to_string(counts.size()) +
         " allocated (heap allocations each:" + list + "; DSV4_TRACE_ALLOC=1 shows where)";
}

}  // namespace dsv4::alloc_counter

// The replaceable allocation functions (the sized and aligned deletes are frees too).
using dsv4::alloc_counter::Allocate;
void* operator new(size_t size) {
  if (void* p = Allocate(size, 0)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return operator new(size); }
void* operator new(size_t size, std::align_val_t align) {
  if (void* p = Allocate(size, size_t(align))) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size, std::align_val_t align) { return operator new(size, align); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return Allocate(size, 0); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return Allocate(size, 0); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }
