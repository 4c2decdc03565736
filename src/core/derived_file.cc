#include "core/derived_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/atomic_file.h"
#include "core/fd_io.h"

namespace dsv4 {
namespace {

constexpr char kMagic[8] = {'D', 'S', 'V', '4', 'D', 'R', 'V', '1'};
constexpr size_t kHeaderFixed = 8 + 8 + 8;  // magic, payload bytes, key bytes

struct Header {
  uint64_t payload_bytes = 0;
  std::string key;
};

std::optional<Header> ReadHeader(int fd) {
  uint8_t fixed[kHeaderFixed];
  if (!PreadFully(fd, fixed, kHeaderFixed, 0) || std::memcmp(fixed, kMagic, 8) != 0) return std::nullopt;
  Header h;
  uint64_t key_bytes = 0;
  std::memcpy(&h.payload_bytes, fixed + 8, 8);
  std::memcpy(&key_bytes, fixed + 16, 8);
  if (key_bytes > DerivedFile::kPayloadOffset - kHeaderFixed) return std::nullopt;
  h.key.resize(size_t(key_bytes));
  if (!PreadFully(fd, h.key.data(), h.key.size(), off_t(kHeaderFixed))) return std::nullopt;
  return h;
}

std::string Errno() { return std::strerror(errno); }

}  // namespace

std::unique_ptr<DerivedFile> DerivedFile::Open(const std::string& path, std::string_view key, size_t payload_bytes,
                                               std::string* why) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *why = errno == ENOENT || errno == ENOTDIR ? "" : path + ": " + Errno();
    return nullptr;
  }
  struct stat st;
  const bool stat_ok = ::fstat(fd, &st) == 0;
  const std::optional<Header> header = stat_ok ? ReadHeader(fd) : std::nullopt;
  ::close(fd);
  if (!header) {
    *why = path + ": not a dsv4 derived file";
    return nullptr;
  }
  if (header->key != key) {
    *why = path + ": made from other sources or by another version";
    return nullptr;
  }
  if (header->payload_bytes != payload_bytes || size_t(st.st_size) != kPayloadOffset + payload_bytes) {
    *why = path + ": " + std::to_string(st.st_size) + " bytes, expected " + std::to_string(kPayloadOffset + payload_bytes);
    return nullptr;
  }
  Result<std::unique_ptr<MappedFile>> map = MappedFile::Open(path);
  if (!map.ok()) {
    *why = map.error();
    return nullptr;
  }
  std::unique_ptr<DerivedFile> file(new DerivedFile());
  file->map_ = std::move(map.value());
  file->payload_bytes_ = payload_bytes;
  if (file->map_->size() != kPayloadOffset + payload_bytes) {  // replaced between the check and the map
    *why = path + ": changed while opening";
    return nullptr;
  }
  return file;
}

bool DerivedFile::Write(const std::string& path, std::string_view key, const void* payload, size_t bytes,
                        size_t min_free_bytes, std::string* err) {
  if (key.size() > kPayloadOffset - kHeaderFixed) {
    *err = "key of " + std::to_string(key.size()) + " bytes is too long";
    return false;
  }
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) {
    *err = dir.string() + ": " + ec.message();
    return false;
  }
  struct statvfs fs;
  if (::statvfs(dir.empty() ? "." : dir.c_str(), &fs) != 0) {
    *err = dir.string() + ": " + Errno();
    return false;
  }
  const uint64_t free_bytes = uint64_t(fs.f_bavail) * fs.f_frsize;
  if (free_bytes < kPayloadOffset + bytes + min_free_bytes) {
    *err = dir.string() + ": " + std::to_string(free_bytes >> 20) + " MiB free, would leave less than " +
           std::to_string(min_free_bytes >> 20) + " MiB after " + std::to_string(bytes >> 20) + " MiB";
    return false;
  }
  std::vector<uint8_t> header(kHeaderFixed + key.size());
  const uint64_t payload_bytes = bytes, key_bytes = key.size();
  std::memcpy(header.data(), kMagic, 8);
  std::memcpy(header.data() + 8, &payload_bytes, 8);
  std::memcpy(header.data() + 16, &key_bytes, 8);
  std::memcpy(header.data() + kHeaderFixed, key.data(), key.size());
  // The gap between the key and the payload stays a hole, not written zeros.
  const FilePiece pieces[] = {{0, header.data(), header.size()}, {kPayloadOffset, payload, bytes}};
  const Status s = WriteFileAtomically(path, pieces, /*durable=*/true);
  if (!s.ok()) *err = s.message();
  return s.ok();
}

std::optional<std::string> DerivedFile::ReadKey(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<Header> header = ReadHeader(fd);
  ::close(fd);
  if (!header) return std::nullopt;
  return std::move(header->key);
}

}  // namespace dsv4
