// DerivedFile: the payload back exactly as written, on a 2 MiB boundary; nothing used from
// a file with another key, another size, a cut-off tail or no header; failed writes leave
// no file behind.
#include "core/derived_file.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "scratch_dir.h"

namespace dsv4 {
namespace {

class DerivedFileTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return scratch_ / name; }
  ScratchDir scratch_{"derived_file"};
  const std::filesystem::path& dir_ = scratch_.path();
};

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

size_t FilesIn(const std::filesystem::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

TEST_F(DerivedFileTest, RoundTripOnAHugePageBoundary) {
  const auto payload = RandomBytes((size_t(3) << 20) + 777, 1);
  const std::string path = Path("sub/dir/a.bin");  // directories created
  std::string err;
  ASSERT_TRUE(DerivedFile::Write(path, "key one\nline two\n", payload.data(), payload.size(), 0, &err)) << err;
  EXPECT_EQ(std::filesystem::file_size(path), DerivedFile::kPayloadOffset + payload.size());
  EXPECT_EQ(FilesIn(dir_ / "sub/dir"), 1u);  // no temporary file left
  std::string why;
  auto file = DerivedFile::Open(path, "key one\nline two\n", payload.size(), &why);
  ASSERT_NE(file, nullptr) << why;
  ASSERT_EQ(file->payload_bytes(), payload.size());
  EXPECT_EQ(std::memcmp(file->payload(), payload.data(), payload.size()), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(file->payload()) % DerivedFile::kPayloadOffset, 0u);
  EXPECT_EQ(DerivedFile::ReadKey(path), std::optional<std::string>("key one\nline two\n"));
}

TEST_F(DerivedFileTest, AnotherKeyOrSizeIsNotUsed) {
  const auto payload = RandomBytes(4096, 2);
  const std::string path = Path("b.bin");
  std::string err, why;
  ASSERT_TRUE(DerivedFile::Write(path, "the key", payload.data(), payload.size(), 0, &err)) << err;
  EXPECT_EQ(DerivedFile::Open(path, "the kez", payload.size(), &why), nullptr);
  EXPECT_NE(why.find("other sources"), std::string::npos) << why;
  EXPECT_EQ(DerivedFile::Open(path, "the key", payload.size() + 1, &why), nullptr);
  EXPECT_NE(why.find("expected"), std::string::npos) << why;
  EXPECT_EQ(DerivedFile::Open(path, "the ke", payload.size(), &why), nullptr);
  EXPECT_NE(DerivedFile::Open(path, "the key", payload.size(), &why), nullptr) << why;
}

TEST_F(DerivedFileTest, CutOffOrForeignFilesAreNotUsed) {
  const auto payload = RandomBytes(10000, 3);
  const std::string path = Path("c.bin");
  std::string err, why;
  ASSERT_TRUE(DerivedFile::Write(path, "k", payload.data(), payload.size(), 0, &err)) << err;
  ASSERT_EQ(::truncate(path.c_str(), off_t(DerivedFile::kPayloadOffset + payload.size() - 1)), 0);
  EXPECT_EQ(DerivedFile::Open(path, "k", payload.size(), &why), nullptr);
  std::ofstream(Path("foreign.bin")) << "DSV4 but not a derived file";
  EXPECT_EQ(DerivedFile::Open(Path("foreign.bin"), "k", 0, &why), nullptr);
  EXPECT_NE(why.find("not a dsv4 derived file"), std::string::npos) << why;
  EXPECT_EQ(DerivedFile::ReadKey(Path("foreign.bin")), std::nullopt);
  EXPECT_EQ(DerivedFile::Open(Path("missing.bin"), "k", 0, &why), nullptr);
  EXPECT_EQ(why, "");  // no file: nothing to report
}

TEST_F(DerivedFileTest, ReplacingKeepsAnOpenMapIntact) {
  const auto first = RandomBytes(8192, 4), second = RandomBytes(8192, 5);
  const std::string path = Path("d.bin");
  std::string err, why;
  ASSERT_TRUE(DerivedFile::Write(path, "k1", first.data(), first.size(), 0, &err)) << err;
  auto open = DerivedFile::Open(path, "k1", first.size(), &why);
  ASSERT_NE(open, nullptr) << why;
  ASSERT_TRUE(DerivedFile::Write(path, "k2", second.data(), second.size(), 0, &err)) << err;
  EXPECT_EQ(std::memcmp(open->payload(), first.data(), first.size()), 0);
  auto reopened = DerivedFile::Open(path, "k2", second.size(), &why);
  ASSERT_NE(reopened, nullptr) << why;
  EXPECT_EQ(std::memcmp(reopened->payload(), second.data(), second.size()), 0);
  EXPECT_EQ(DerivedFile::Open(path, "k1", first.size(), &why), nullptr);
}

TEST_F(DerivedFileTest, FailedWritesLeaveNothing) {
  const auto payload = RandomBytes(1000, 6);
  std::string err;
  // Less free space than asked to keep.
  EXPECT_FALSE(DerivedFile::Write(Path("e.bin"), "k", payload.data(), payload.size(), size_t(1) << 62, &err));
  EXPECT_NE(err.find("free"), std::string::npos) << err;
  EXPECT_EQ(FilesIn(dir_), 0u);
  // A directory that cannot be made (a regular file is in the way).
  std::ofstream(Path("plain")) << "x";
  err.clear();
  EXPECT_FALSE(DerivedFile::Write(Path("plain/f.bin"), "k", payload.data(), payload.size(), 0, &err));
  EXPECT_FALSE(err.empty());
  EXPECT_FALSE(std::filesystem::exists(Path("plain/f.bin")));
  // A key that does not fit before the payload.
  EXPECT_FALSE(DerivedFile::Write(Path("g.bin"), std::string(DerivedFile::kPayloadOffset, 'k'), payload.data(),
                                  payload.size(), 0, &err));
  EXPECT_EQ(FilesIn(dir_), 1u);  // only "plain"
}

}  // namespace
}  // namespace dsv4
