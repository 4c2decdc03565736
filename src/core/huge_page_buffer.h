// An owned buffer on 2 MiB transparent huge pages where the kernel allows (THP "madvise"
// mode: MADV_HUGEPAGE): far fewer page faults to set up (each costs microseconds in a VM)
// and fewer TLB misses for data streamed from memory (FP8 Linear at T = 1 over
// [4096, 4096] x8, 2 threads, line-aligned rows: 45-47 GB/s from 4 KiB pages vs 52 from
// 2 MiB ones, /tmp/kb/lf12.cc; the 43-44 vs 66-68 first measured here also had the 4 KiB
// buffer's rows 16 bytes off a cache line, a cost LineAlignedLoads has since removed).
// Contents start uninitialised. Movable, not copyable.
#pragma once

#include <cstddef>

namespace dsv4 {

class HugePageBuffer {
 public:
  HugePageBuffer() = default;
  explicit HugePageBuffer(size_t bytes);  // throws std::bad_alloc
  ~HugePageBuffer();
  HugePageBuffer(HugePageBuffer&& other) noexcept;
  HugePageBuffer& operator=(HugePageBuffer&& other) noexcept;
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;

  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace dsv4
