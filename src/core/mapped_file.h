// Read-only memory map of a whole file, pre-faulted at open (DSV4_LAZY_MMAP=1: lazily,
// for checkpoints larger than RAM), on 2 MiB pages where the kernel allows.
//
// Why huge pages: decode reads ~1.5 GB of weights per token, the routed experts' share
// scattered over the whole file. On 4 KiB pages that is ~370,000 page-table entries per
// token, and on a VM with shadow paging (this development machine) an entry not used
// recently costs a hypervisor fault: random 12.7 MB expert reads ran at 4.2 GB/s from a
// 4 KiB map vs 37 GB/s from 2 MiB pages. So the map is 2 MiB-aligned and MADV_HUGEPAGE,
// which makes the kernel read the file into 2 MiB page-cache folios and map them whole
// (ext4 and other large-folio file systems; Linux >= 6.x). A file already cached in 4 KiB
// pages (e.g. just written) is dropped from the page cache once and read again so; of a
// file mostly on 2 MiB folios, just the 64 MiB chunks holding small ones (read by another
// reader, or split under memory pressure) (DSV4_MAP_HUGE=0 keeps 4 KiB pages). Reopening
// a cached file then maps in milliseconds.
// Weights are used in place from the map (only the BF16 matrices are repacked, at their
// first load, into a cached file mapped by later loads: model/forward/row_blocks_cache.h).
// Ownership: the MappedFile owns the mapping; pointers into it live as long as it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace dsv4 {

class MappedFile {
 public:
  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Bytes of this map the kernel maps with 2 MiB entries (from /proc/self/smaps).
  size_t huge_mapped_bytes() const;

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t region_size_ = 0;  // the reserved, 2 MiB-rounded range at data_
};

// Drops this process's mapping of the whole 2 MiB pages inside [p, p + n) of a read-only
// file map (madvise MADV_DONTNEED): they leave the resident set, and a later read faults
// them back in from the file. For weights a model keeps in another form (a repacked copy).
void ReleaseMappedRange(const uint8_t* p, size_t n);

}  // namespace dsv4
