// A file of bytes derived from other data (a repacked copy of a checkpoint's weights),
// stored with a key: the full description of what they were derived from, and how. A
// later process maps the payload instead of deriving it again; any change of the sources
// or of the derivation changes the key, and a file holding another key is not used.
//
// Layout: "DSV4DRV1", u64 payload bytes, u64 key bytes, the key; the payload starts at
// 2 MiB (the gap stays a hole), so MappedFile's 2 MiB-aligned map puts it on huge pages.
// Written atomically and durably (core/atomic_file.h): a reader sees a whole file or none,
// and processes that mapped an older version keep it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/mapped_file.h"

namespace dsv4 {

class DerivedFile {
 public:
  static constexpr size_t kPayloadOffset = size_t(2) << 20;

  // The file at `path` if it holds exactly `key` and a payload of payload_bytes; else
  // nullptr, with *why saying what was found (another key, wrong size, unreadable; empty
  // where there is no file).
  static std::unique_ptr<DerivedFile> Open(const std::string& path, std::string_view key, size_t payload_bytes,
                                           std::string* why);
  // Writes `bytes` of payload under `key` to `path`, creating its directory. On any failure
  // (including less free space than bytes + min_free_bytes) returns false with *err and
  // leaves no file behind. Removes what earlier writers of `path` that died mid-write left.
  static bool Write(const std::string& path, std::string_view key, const void* payload, size_t bytes,
                    size_t min_free_bytes, std::string* err);
  // The key stored in the file at `path`, if it is one of these files.
  static std::optional<std::string> ReadKey(const std::string& path);

  const uint8_t* payload() const { return map_->data() + kPayloadOffset; }
  size_t payload_bytes() const { return payload_bytes_; }

 private:
  DerivedFile() = default;
  std::unique_ptr<MappedFile> map_;
  size_t payload_bytes_ = 0;
};

}  // namespace dsv4
