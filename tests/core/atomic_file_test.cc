// WriteFileAtomically: the pieces at their offsets with holes between them, the size the
// end of the last piece, the old file replaced whole; a failed write leaves the old file
// and no temporary; dead writers' temporaries are removed, live ones kept.
#include "core/atomic_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "scratch_dir.h"

namespace dsv4 {
namespace {

class AtomicFileTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return scratch_ / name; }
  static std::string Contents(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  ScratchDir scratch_{"atomic_file"};
  const std::filesystem::path& dir_ = scratch_.path();
};

TEST_F(AtomicFileTest, PiecesAtTheirOffsetsWithHolesBetween) {
  const std::string a = "head", b = "tail!";
  const FilePiece pieces[] = {{0, a.data(), a.size()}, {100, b.data(), b.size()}};
  for (bool durable : {false, true}) {
    ASSERT_TRUE(WriteFileAtomically(Path("f"), pieces, durable).ok());
    EXPECT_EQ(Contents(Path("f")), a + std::string(96, '\0') + b);
  }
  // A last piece of no bytes still sets the size.
  const FilePiece sized[] = {{0, a.data(), a.size()}, {4096, nullptr, 0}};
  ASSERT_TRUE(WriteFileAtomically(Path("f"), sized, false).ok());
  EXPECT_EQ(std::filesystem::file_size(Path("f")), 4096u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);  // no temporary left
}

TEST_F(AtomicFileTest, FailedWriteKeepsTheOldFile) {
  const std::string old = "old contents";
  const FilePiece piece{0, old.data(), old.size()};
  ASSERT_TRUE(WriteFileAtomically(Path("g"), {&piece, 1}, false).ok());
  // A directory in the way of the rename: the write fails, the directory and nothing else stays.
  std::filesystem::create_directories(Path("h") + "/inside");
  const Status s = WriteFileAtomically(Path("h"), {&piece, 1}, false);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot rename"), std::string::npos) << s.message();
  EXPECT_TRUE(std::filesystem::is_directory(Path("h")));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 2);  // g and h
  // No directory to write into.
  EXPECT_FALSE(WriteFileAtomically(Path("missing/g"), {&piece, 1}, false).ok());
  EXPECT_EQ(Contents(Path("g")), old);
}

TEST_F(AtomicFileTest, DeadWritersTemporariesAreRemoved) {
  // Left by a writer that is gone (no process has this id: above Linux's pid limit), by a
  // live one (init), a name that only looks similar, and another target's.
  std::ofstream(Path("t.tmp.2147483600")) << "half a file";
  std::ofstream(Path("t.tmp.1")) << "init's own, alive";
  std::ofstream(Path("t.tmp.12x")) << "not a pid";
  std::ofstream(Path("other.tmp.2147483600")) << "another target's";
  const std::string data = "new";
  const FilePiece piece{0, data.data(), data.size()};
  ASSERT_TRUE(WriteFileAtomically(Path("t"), {&piece, 1}, false).ok());
  EXPECT_FALSE(std::filesystem::exists(Path("t.tmp.2147483600")));
  EXPECT_TRUE(std::filesystem::exists(Path("t.tmp.1")));
  EXPECT_TRUE(std::filesystem::exists(Path("t.tmp.12x")));
  EXPECT_TRUE(std::filesystem::exists(Path("other.tmp.2147483600")));
  EXPECT_EQ(Contents(Path("t")), data);
}

}  // namespace
}  // namespace dsv4
