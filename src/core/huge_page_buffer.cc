#include "core/huge_page_buffer.h"

#include <sys/mman.h>

#include <cstdlib>
#include <new>
#include <utility>

namespace dsv4 {

HugePageBuffer::HugePageBuffer(size_t bytes) : bytes_(bytes) {
  constexpr size_t kHuge = size_t(2) << 20;
  const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
  data_ = std::aligned_alloc(kHuge, rounded == 0 ? kHuge : rounded);
  if (data_ == nullptr) throw std::bad_alloc();
  ::madvise(data_, rounded, MADV_HUGEPAGE);  // advisory: kernels without THP ignore it
}

HugePageBuffer::~HugePageBuffer() { std::free(data_); }

HugePageBuffer::HugePageBuffer(HugePageBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

HugePageBuffer& HugePageBuffer::operator=(HugePageBuffer&& other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

}  // namespace dsv4
