#include "core/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/fd_io.h"

namespace dsv4 {
namespace {

constexpr char kTempInfix[] = ".tmp.";

std::string TempPath(const std::string& path, long pid) { return path + kTempInfix + std::to_string(pid); }

// Removes the temporary files of writes to `path` by processes that are gone (killed
// mid-write: a file's worth of disk each).
void RemoveDeadWritersFiles(const std::string& path) {
  const std::filesystem::path target(path);
  const std::string prefix = target.filename().string() + kTempInfix;
  std::error_code ec;
  const std::filesystem::path dir = target.parent_path().empty() ? "." : target.parent_path();
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
    if (end == name.c_str() + prefix.size() || *end != '\0' || pid <= 0) continue;
    if (::kill(pid_t(pid), 0) != 0 && errno == ESRCH) std::filesystem::remove(entry.path(), ec);
  }
}

}  // namespace

Status WriteFileAtomically(const std::string& path, std::span<const FilePiece> pieces, bool durable) {
  RemoveDeadWritersFiles(path);
  const std::string tmp = TempPath(path, long(::getpid()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Fail("cannot write " + tmp + ": " + std::strerror(errno));
  uint64_t end = 0;
  bool ok = true;
  for (const FilePiece& piece : pieces) {
    ok = ok && PwriteFully(fd, piece.data, piece.size, off_t(piece.offset));
    end = std::max(end, piece.offset + piece.size);
  }
  ok = ok && ::ftruncate(fd, off_t(end)) == 0 && (!durable || ::fdatasync(fd) == 0);
  std::string err = ok ? "" : "cannot write " + tmp + ": " + std::strerror(errno);
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = "cannot write " + tmp + ": " + std::strerror(errno);
  }
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    err = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
  }
  if (ok) return Status::Ok();
  ::unlink(tmp.c_str());
  return Status::Fail(err);
}

}  // namespace dsv4
