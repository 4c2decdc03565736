// Keeping memory in RAM: a server's weights must not be taken by the kernel's reclaim
// (memory pressure, or proactive reclaim such as DAMON's pageout, which on the development
// VM evicted a mapped checkpoint between runs: bench/RESULTS.md, eighteenth session), or a
// request would wait on the disk in the middle of a decode step.
#pragma once

#include <cstddef>

#include "core/status.h"

namespace dsv4 {

// Locks [p, p + n) (widened to whole pages) in RAM: the pages resident now at once, the
// others when first touched (mlock2 MLOCK_ONFAULT, so nothing is read in ahead of use and
// ranges a model released stay released). Fails with the reason and the remedy where the
// process may not lock that much (RLIMIT_MEMLOCK without CAP_IPC_LOCK).
Status LockInMemory(const void* p, size_t n);

// Bytes this process has locked (VmLck of /proc/self/status); 0 where unknown.
size_t LockedBytes();

}  // namespace dsv4
