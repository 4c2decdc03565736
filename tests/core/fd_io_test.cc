#include "core/fd_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "scratch_dir.h"

namespace dsv4 {
namespace {

TEST(FdIoTest, WritesAndReadsBackAtOffsets) {
  ScratchDir dir("fd_io");
  const int fd = ::open((dir / "f").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  std::vector<uint8_t> data(100000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 7 + 3);
  ASSERT_TRUE(PwriteFully(fd, data.data(), data.size(), 4096));
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(PreadFully(fd, back.data(), back.size(), 4096));
  EXPECT_EQ(back, data);
  // The gap before the offset reads back as zeros.
  uint8_t head[16];
  ASSERT_TRUE(PreadFully(fd, head, sizeof(head), 0));
  for (uint8_t b : head) EXPECT_EQ(b, 0);
  ::close(fd);
}

TEST(FdIoTest, ReadingPastTheEndFails) {
  ScratchDir dir("fd_io_end");
  const int fd = ::open((dir / "f").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  const uint8_t bytes[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  ASSERT_TRUE(PwriteFully(fd, bytes, sizeof(bytes), 0));
  uint8_t out[11];
  EXPECT_FALSE(PreadFully(fd, out, sizeof(out), 0));  // one byte short
  EXPECT_TRUE(PreadFully(fd, out, 10, 0));
  EXPECT_FALSE(PreadFully(fd, out, 1, 10));
  ::close(fd);
}

TEST(FdIoTest, BadDescriptorFails) {
  uint8_t b = 0;
  EXPECT_FALSE(PreadFully(-1, &b, 1, 0));
  EXPECT_FALSE(PwriteFully(-1, &b, 1, 0));
}

}  // namespace
}  // namespace dsv4
