#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace dsv4 {

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
  }
  ::close(fd);
  return file;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace dsv4
