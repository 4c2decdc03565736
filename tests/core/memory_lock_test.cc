#include "core/memory_lock.h"

#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "low_memlock_limit.h"

namespace dsv4 {
namespace {

// An anonymous private map of n bytes, unmapped at the end.
struct Anonymous {
  explicit Anonymous(size_t n) : size(n) {
    p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  ~Anonymous() {
    if (p != MAP_FAILED) ::munmap(p, size);
  }
  void* p;
  size_t size;
};

size_t ResidentPages(void* p, size_t n) {
  const size_t page = size_t(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> v((n + page - 1) / page);
  if (::mincore(p, n, v.data()) != 0) return SIZE_MAX;
  size_t resident = 0;
  for (unsigned char c : v) resident += c & 1;
  return resident;
}

TEST(MemoryLockTest, LocksTouchedPagesAndLeavesTheRestUnread) {
  const size_t page = size_t(::sysconf(_SC_PAGESIZE));
  Anonymous region(64 * page);
  ASSERT_NE(region.p, MAP_FAILED);
  std::memset(region.p, 1, 4 * page);  // the first 4 pages resident
  const size_t before = LockedBytes();
  Status s = LockInMemory(static_cast<char*>(region.p) + 1, 64 * page - 1);  // widened to whole pages
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_GE(LockedBytes(), before + 4 * page);
  // MLOCK_ONFAULT: the untouched pages are not read in by the lock.
  EXPECT_EQ(ResidentPages(region.p, 64 * page), 4u);
  static_cast<char*>(region.p)[10 * page] = 2;  // touched later: resident (and locked)
  EXPECT_EQ(ResidentPages(region.p, 64 * page), 5u);
  EXPECT_TRUE(LockInMemory(region.p, 0).ok());
}

TEST(MemoryLockTest, OverTheLimitSaysWhyAndWhatToDo) {
  const size_t n = size_t(16) << 20;
  Anonymous region(n);
  ASSERT_NE(region.p, MAP_FAILED);
  Status s;
  {
    LowMemlockLimit low;
    ASSERT_TRUE(low.ok());
    s = LockInMemory(region.p, n);
  }
  if (s.ok()) {
    // A process with CAP_IPC_LOCK (root, as in CI containers) may lock past the limit.
    EXPECT_GE(LockedBytes(), n);
  } else {
    EXPECT_NE(s.message().find("cannot lock 16 MiB"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("RLIMIT_MEMLOCK is 4 KiB"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("CAP_IPC_LOCK"), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace dsv4
