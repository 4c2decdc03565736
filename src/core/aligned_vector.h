// std::vector storage that starts on a 64-byte cache line. glibc's malloc aligns to 16
// bytes only (a large buffer, served by mmap, starts 16 bytes past a line), and AMX tile
// rows or AVX-512 vectors that straddle two lines cost twice the line reads: one thread,
// 1 KiB B tiles from a 128 KiB buffer alongside A tiles from L1, 8-13 ns per tile product
// from line-aligned rows against 22-43 ns 16 bytes off (/tmp/kb/tpipe3.cc).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace dsv4 {

template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, size_t n) noexcept { ::operator delete(p, n * sizeof(T), kAlign); }
  template <typename U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept {
    return true;
  }
};

template <typename T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace dsv4
