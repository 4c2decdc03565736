// RLIMIT_MEMLOCK's soft limit lowered to 4 KiB while the object lives (for tests of what a
// process may not lock; a process with CAP_IPC_LOCK is not bound by it), then restored.
#pragma once

#include <sys/resource.h>

namespace dsv4 {

class LowMemlockLimit {
 public:
  LowMemlockLimit() {
    ok_ = ::getrlimit(RLIMIT_MEMLOCK, &saved_) == 0;
    rlimit low = saved_;
    low.rlim_cur = 4096;
    ok_ = ok_ && ::setrlimit(RLIMIT_MEMLOCK, &low) == 0;
  }
  ~LowMemlockLimit() { ::setrlimit(RLIMIT_MEMLOCK, &saved_); }
  LowMemlockLimit(const LowMemlockLimit&) = delete;
  LowMemlockLimit& operator=(const LowMemlockLimit&) = delete;

  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

}  // namespace dsv4
