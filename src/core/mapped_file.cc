#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "core/thread_pool.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

namespace dsv4 {
namespace {

constexpr size_t kHugePage = size_t(2) << 20;
// Smaller files are not worth a page-cache drop and re-read.
constexpr size_t kRereadMinBytes = size_t(64) << 20;

bool EnvIs(const char* name, char value) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] == value;
}

// Maps `size` bytes of fd from `offset` (a multiple of 2 MiB) read-only at a 2 MiB-aligned
// address inside a reserved range of `region` bytes (so the offset sits on a huge-page
// boundary and 2 MiB folios can be mapped whole).
void* MapAligned(int fd, size_t offset, size_t size, size_t region, bool huge, std::string* err) {
  void* raw = ::mmap(nullptr, region + kHugePage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) {
    *err = std::strerror(errno);
    return nullptr;
  }
  uint8_t* base = static_cast<uint8_t*>(raw);
  uint8_t* aligned = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(base) + kHugePage - 1) &
                                                ~uintptr_t(kHugePage - 1));
  if (aligned > base) ::munmap(base, size_t(aligned - base));
  const size_t tail = size_t(base + kHugePage - aligned);
  if (tail > 0) ::munmap(aligned + region, tail);
  // The file over the start of the reservation; the rest of it stays PROT_NONE.
  void* p = ::mmap(aligned, size, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, off_t(offset));
  if (p == MAP_FAILED) {
    *err = std::strerror(errno);
    ::munmap(aligned, region);
    return nullptr;
  }
  if (huge) ::madvise(p, size, MADV_HUGEPAGE);  // advisory: kernels without file THP ignore it
  return p;
}

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

// Faults the whole map in (page cache + page tables); MADV_POPULATE_READ where the
// kernel has it (5.14+), else a read of one byte per page.
void Populate(const uint8_t* p, size_t size) {
  if (::madvise(const_cast<uint8_t*>(p), size, MADV_POPULATE_READ) == 0) return;
  volatile uint8_t sink = 0;
  for (size_t off = 0; off < size; off += 4096) sink = sink + p[off];
}

size_t FilePmdMappedBytes(const void* start) {
  // smaps lists each mapping as "start-end perms ..." followed by "Key: N kB" lines.
  std::ifstream smaps("/proc/self/smaps");
  char range[64];
  std::snprintf(range, sizeof range, "%lx-", static_cast<unsigned long>(reinterpret_cast<uintptr_t>(start)));
  std::string line;
  bool ours = false;
  while (std::getline(smaps, line)) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') != std::string::npos &&
        line.find(' ') > line.find('-')) {
      ours = line.rfind(range, 0) == 0;
    } else if (ours && line.rfind("FilePmdMapped:", 0) == 0) {
      return size_t(std::strtoull(line.c_str() + 14, nullptr, 10)) * 1024;
    }
  }
  return 0;
}

// Drops from the page cache the 64 MiB chunks of fd cached (in part) in small folios, so
// that mapping them again reads them into 2 MiB folios; whole-huge chunks stay cached.
// Each chunk is probed through a mapping of its own (smaps counts per mapping).
void DropSplitChunks(int fd, size_t size) {
  constexpr size_t kChunk = size_t(64) << 20;
  for (size_t off = 0; off < size; off += kChunk) {
    const size_t len = std::min(kChunk, size - off);
    const size_t whole = len / kHugePage * kHugePage;  // a tail under 2 MiB maps small
    if (whole == 0) continue;
    std::string err;
    void* p = MapAligned(fd, off, whole, whole, /*huge=*/true, &err);
    if (p == nullptr) return;  // leave the rest as it is
    Populate(static_cast<const uint8_t*>(p), whole);
    const size_t huge = FilePmdMappedBytes(p);
    ::munmap(p, whole);
    if (huge < whole) ::posix_fadvise(fd, off_t(off), off_t(len), POSIX_FADV_DONTNEED);
  }
}

}  // namespace

Result<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  using R = Result<std::unique_ptr<MappedFile>>;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return R::Fail(path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    std::string err = std::strerror(errno);
    ::close(fd);
    return R::Fail(path + ": " + err);
  }
  std::unique_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = size_t(st.st_size);
  if (file->size_ > 0) {
    const bool lazy = EnvIs("DSV4_LAZY_MMAP", '1');
    const bool huge = !EnvIs("DSV4_MAP_HUGE", '0');
    file->region_size_ = (file->size_ + kHugePage - 1) / kHugePage * kHugePage;
    std::string err;
    void* p = MapAligned(fd, 0, file->size_, file->region_size_, huge, &err);
    if (p == nullptr) {
      ::close(fd);
      return R::Fail(path + ": mmap failed: " + err);
    }
    file->data_ = static_cast<const uint8_t*>(p);
    // Pre-fault the whole mapping at load: otherwise every decode step that reaches
    // experts not yet touched pays page faults, which measured at 4-25x the step's
    // arithmetic on the Flash-shaped benchmark.
    if (!lazy) {
      Populate(file->data_, file->size_);
      const size_t whole_pages = file->size_ / kHugePage * kHugePage;  // the tail maps small
      const size_t huge_bytes = huge && file->size_ >= kRereadMinBytes ? file->huge_mapped_bytes() : whole_pages;
      if (huge_bytes < whole_pages) {
        // Cached in 4 KiB pages: drop them (pages other processes map stay) and fault the
        // file in again, now read ahead into 2 MiB folios. Mostly huge already (file THP
        // works here; a part was read in small folios, e.g. by another reader, or split
        // under memory pressure): only the chunks that hold small folios are dropped.
        ::munmap(p, file->region_size_);
        if (huge_bytes < file->size_ / 2) {
          ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        } else {
          DropSplitChunks(fd, file->size_);
        }
        p = MapAligned(fd, 0, file->size_, file->region_size_, huge, &err);
        if (p == nullptr) {
          file->data_ = nullptr;
          ::close(fd);
          return R::Fail(path + ": mmap failed: " + err);
        }
        file->data_ = static_cast<const uint8_t*>(p);
        Populate(file->data_, file->size_);
      }
      TouchPages(file->data_, file->size_);
    }
  }
  ::close(fd);
  return file;
}

size_t MappedFile::huge_mapped_bytes() const { return data_ == nullptr ? 0 : FilePmdMappedBytes(data_); }

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), region_size_);
}

void ReleaseMappedRange(const uint8_t* p, size_t n) {
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + n) & ~(kHuge - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);  // advisory
}

}  // namespace dsv4
