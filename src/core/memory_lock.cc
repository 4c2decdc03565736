#include "core/memory_lock.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

namespace dsv4 {

Status LockInMemory(const void* p, size_t n) {
  if (n == 0) return Status::Ok();
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = uintptr_t(p) / page * page;
  const uintptr_t end = (uintptr_t(p) + n + page - 1) / page * page;
  if (::mlock2(reinterpret_cast<const void*>(begin), end - begin, MLOCK_ONFAULT) == 0) return Status::Ok();
  const int err = errno;
  std::string why = "cannot lock " + std::to_string((end - begin) >> 20) + " MiB in memory: " + std::strerror(err);
  rlimit limit{};
  if ((err == ENOMEM || err == EPERM || err == EAGAIN) && ::getrlimit(RLIMIT_MEMLOCK, &limit) == 0 &&
      limit.rlim_cur != RLIM_INFINITY) {
    why += " (RLIMIT_MEMLOCK is " + std::to_string(limit.rlim_cur >> 10) +
           " KiB: raise it, e.g. `ulimit -l unlimited` or LimitMEMLOCK=infinity in a systemd unit, "
           "or run with CAP_IPC_LOCK)";
  }
  return Status::Fail(why);
}

size_t LockedBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmLck:", 0) == 0) return size_t(std::stoull(line.substr(6))) << 10;  // "VmLck:  123 kB"
  }
  return 0;
}

}  // namespace dsv4
