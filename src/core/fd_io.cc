#include "core/fd_io.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace dsv4 {
namespace {

// `transfer(p, count, off)` is pread or pwrite; moves n bytes from / to p in calls of at
// most 64 MiB (Linux moves at most ~2 GiB per call anyway).
template <typename Byte, typename Transfer>
bool TransferFully(Byte* p, size_t n, off_t off, Transfer transfer) {
  while (n > 0) {
    const ssize_t moved = transfer(p, std::min(n, size_t(64) << 20), off);
    if (moved < 0 && errno == EINTR) continue;
    if (moved <= 0) return false;
    p += moved;
    n -= size_t(moved);
    off += moved;
  }
  return true;
}

}  // namespace

bool PreadFully(int fd, void* out, size_t n, off_t off) {
  return TransferFully(static_cast<uint8_t*>(out), n, off,
                       [fd](uint8_t* p, size_t count, off_t at) { return ::pread(fd, p, count, at); });
}

bool PwriteFully(int fd, const void* data, size_t n, off_t off) {
  return TransferFully(static_cast<const uint8_t*>(data), n, off,
                       [fd](const uint8_t* p, size_t count, off_t at) { return ::pwrite(fd, p, count, at); });
}

}  // namespace dsv4
