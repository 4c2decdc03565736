// Model::PackRowBlocks' blocked copies of the BF16 matrices (kernels/bf16_row_blocks.h),
// kept on disk between processes so that a restart maps them instead of repacking (the
// benchmark checkpoint's 1.09 GB: 0.2-0.7 s of every load on the 2-core VM, and a second
// private copy per process; a mapped file is one page-cache copy that processes share).
//
// The file (core/derived_file.h) is named after the checkpoint's directory and keyed by
// everything the copy depends on: the layout's version, and per matrix its tensor name,
// shape and shard, each shard by path, size, modification time, inode and device. A
// checkpoint changed in any of these is repacked (and the file replaced); on top of the
// key, each matrix's copy is compared with its source at sampled elements before use.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kernels/linear.h"
#include "model/checkpoint.h"

namespace dsv4 {

struct RowBlocksCacheOptions {
  bool enabled = true;                      // DSV4_PACK_CACHE=0 turns it off
  std::string dir;                          // empty: DefaultCacheDir() + "/packed"
  size_t min_bytes = size_t(64) << 20;      // smaller copies are made at every load
  size_t min_free_bytes = size_t(1) << 30;  // never fill the disk below this
};

// The options as the environment sets them (DSV4_PACK_CACHE).
RowBlocksCacheOptions RowBlocksCacheOptionsFromEnv();

// The cache file of the checkpoint in `options`' directory.
std::string RowBlocksCachePath(const Checkpoint& checkpoint, const RowBlocksCacheOptions& options);

// The key of the blocked copies of `matrices` (checkpoint tensors, in this order).
std::string RowBlocksCacheKey(const Checkpoint& checkpoint, const std::vector<const kernels::WeightMatrix*>& matrices);

// Whether `blocks` (the matrices' blocked copies back to back) holds each matrix's values
// at its first and last element and at 14 pseudo-random ones.
bool RowBlocksMatchSources(const std::vector<const kernels::WeightMatrix*>& matrices, const uint16_t* blocks);

// Removes the cache files in `dir` (other than keep) whose checkpoint directory no
// longer exists.
void PruneOrphanRowBlocks(const std::string& dir, const std::string& keep);

}  // namespace dsv4
