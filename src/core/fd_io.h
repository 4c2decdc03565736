// Whole positioned transfers on a file descriptor: pread / pwrite retried over short
// transfers and EINTR until all n bytes moved.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace dsv4 {

// False on an error or (reading) the end of the file before n bytes.
bool PreadFully(int fd, void* out, size_t n, off_t off);
bool PwriteFully(int fd, const void* data, size_t n, off_t off);

}  // namespace dsv4
