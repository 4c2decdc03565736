#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/thread_pool.h"

namespace dsv4 {
namespace {

// Reads one word of every 4 KiB page, split over the thread pool. MAP_POPULATE fills the
// guest's page tables, but on virtual machines that shadow them (the development VM) the
// first read of each page of a new mapping still costs ~2 us: 9.3 GB of benchmark
// checkpoint read 1.8 GB/s on a first pass, 14-35 GB/s after. Paying that at load keeps
// it out of the first prefill and the first decode steps.
void TouchPages(const uint8_t* data, size_t size) {
  constexpr size_t kPage = 4096;
  const size_t pages = (size + kPage - 1) / kPage;
  std::atomic<uint64_t> sink{0};
  ParallelFor(pages, 4096, [&](size_t p0, size_t p1) {
    uint64_t acc = 0;
    for (size_t p = p0; p < p1; ++p) acc += static_cast<const volatile uint8_t*>(data)[p * kPage];
    sink.fetch_add(acc, std::memory_order_relaxed);
  });
}

}  // namespace

Result<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Result<std::unique_ptr<MappedFile>>::Fail(path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    std::string err = std::strerror(errno);
    ::close(fd);
    return Result<std::unique_ptr<MappedFile>>::Fail(path + ": " + err);
  }
  std::unique_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = size_t(st.st_size);
  if (file->size_ > 0) {
    // Pre-fault the whole mapping (page cache + page tables) at load: otherwise every
    // decode step that reaches experts not yet touched pays 4 KiB page faults, which
    // measured at 4-25x the step's arithmetic on the Flash-shaped benchmark.
    // DSV4_LAZY_MMAP=1 maps lazily (for checkpoints larger than RAM).
    const char* lazy = std::getenv("DSV4_LAZY_MMAP");
    const int flags = MAP_PRIVATE | ((lazy && lazy[0] == '1') ? 0 : MAP_POPULATE);
    void* p = ::mmap(nullptr, file->size_, PROT_READ, flags, fd, 0);
    if (p == MAP_FAILED) {
      std::string err = std::strerror(errno);
      ::close(fd);
      return Result<std::unique_ptr<MappedFile>>::Fail(path + ": mmap failed: " + err);
    }
    file->data_ = static_cast<const uint8_t*>(p);
    if (!(lazy && lazy[0] == '1')) TouchPages(file->data_, file->size_);
  }
  ::close(fd);
  return file;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace dsv4
