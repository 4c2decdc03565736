// Writing a file whole or not at all, for files that other processes read (caches): the
// pieces go to a temporary file beside `path`, named after this process so that
// concurrent writers do not collide, which then replaces `path` by rename. A reader sees
// the old file or the new one, never a part, and a process that mapped the old one keeps
// it. Temporaries of `path` left by writers that died mid-write are removed first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/status.h"

namespace dsv4 {

struct FilePiece {
  uint64_t offset = 0;
  const void* data = nullptr;
  size_t size = 0;
};

// The file's size is the end of its last piece; gaps between pieces stay holes. durable:
// fdatasync before the rename, so that a crash cannot leave the new name on data never
// written (for large files later used without reading them through). On failure nothing
// is left behind and `path` is as it was.
Status WriteFileAtomically(const std::string& path, std::span<const FilePiece> pieces, bool durable);

}  // namespace dsv4
