// MappedFile: the bytes of the file, whole, for a small file and for one large enough to
// take the huge-page path (including its re-read of a file cached in 4 KiB pages right
// after writing it, and of a chunk cached so in a file otherwise on 2 MiB folios), and
// clear errors for missing files.
#include "core/mapped_file.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace dsv4 {
namespace {

std::string WriteTemp(const std::string& name, const std::vector<uint8_t>& bytes) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            (name + "_" + std::to_string(::getpid()))).string();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              std::streamsize(bytes.size()));
  return path;
}

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

void ExpectContents(const std::string& path, const std::vector<uint8_t>& bytes) {
  auto file = MappedFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.error();
  ASSERT_EQ(file.value()->size(), bytes.size());
  EXPECT_EQ(std::memcmp(file.value()->data(), bytes.data(), bytes.size()), 0);
  EXPECT_LE(file.value()->huge_mapped_bytes(), (bytes.size() + (2u << 20) - 1) / (2u << 20) * (2u << 20));
}

TEST(MappedFileTest, SmallFileWhole) {
  const auto bytes = RandomBytes(10007, 1);
  const std::string path = WriteTemp("dsv4_mapped_small", bytes);
  ExpectContents(path, bytes);
  std::filesystem::remove(path);
}

TEST(MappedFileTest, LargeFileWholeThroughTheHugePagePath) {
  // 70 MB + a ragged tail: above the re-read threshold, not a multiple of 2 MiB.
  const auto bytes = RandomBytes((size_t(70) << 20) + 12345, 2);
  const std::string path = WriteTemp("dsv4_mapped_large", bytes);
  ExpectContents(path, bytes);
  ExpectContents(path, bytes);  // reopened from the page cache
  std::filesystem::remove(path);
}

// A file mostly cached in 2 MiB folios with one 64 MiB chunk read back in 4 KiB pages (as
// another reader or reclaim leaves a page cache): opening it maps the whole file on 2 MiB
// pages again, the chunk re-read, and the bytes unchanged. Where this kernel or file system
// gives files no huge folios at all, there is nothing to check.
TEST(MappedFileTest, SplitChunkIsReadAgainIntoHugeFolios) {
  const size_t chunk = size_t(64) << 20;
  const auto bytes = RandomBytes(3 * chunk + 4321, 3);
  const std::string path = WriteTemp("dsv4_mapped_split", bytes);
  const size_t whole = bytes.size() / (2u << 20) * (2u << 20);
  {
    auto file = MappedFile::Open(path);
    ASSERT_TRUE(file.ok()) << file.error();
    if (file.value()->huge_mapped_bytes() < whole) {
      std::filesystem::remove(path);
      GTEST_SKIP() << "no 2 MiB file folios here (" << file.value()->huge_mapped_bytes() << " of " << whole << " bytes)";
    }
  }
  {
    // The middle chunk dropped and read back 4 KiB at a time without read-ahead.
    const int fd = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::fdatasync(fd), 0);
    ASSERT_EQ(::posix_fadvise(fd, off_t(chunk), off_t(chunk), POSIX_FADV_DONTNEED), 0);
    ASSERT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM), 0);
    std::vector<uint8_t> page(4096);
    for (size_t off = chunk; off < 2 * chunk; off += page.size()) {
      ASSERT_EQ(::pread(fd, page.data(), page.size(), off_t(off)), ssize_t(page.size()));
    }
    ::close(fd);
  }
  auto file = MappedFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.error();
  EXPECT_EQ(file.value()->huge_mapped_bytes(), whole);
  EXPECT_EQ(std::memcmp(file.value()->data(), bytes.data(), bytes.size()), 0);
  std::filesystem::remove(path);
}

TEST(MappedFileTest, EmptyAndMissingFiles) {
  const std::string path = WriteTemp("dsv4_mapped_empty", {});
  auto empty = MappedFile::Open(path);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty.value()->size(), 0u);
  EXPECT_EQ(empty.value()->huge_mapped_bytes(), 0u);
  std::filesystem::remove(path);
  auto missing = MappedFile::Open(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find(path), std::string::npos);
}

}  // namespace
}  // namespace dsv4
