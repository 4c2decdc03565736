// Writes a random-weight checkpoint in DeepSeek's official format for any V4 config:
// FP8 e4m3 + ue8m0 128x128 block scales for the attention projections, indexer wq_b,
// shared experts and MTP projections; FP4 e2m1 (I8-packed) + per-32 scales for the routed
// experts; BF16 / F32 / I64 elsewhere, names and shapes as spec §11.3. Values are scaled so
// activations stay finite and normal. For benchmarks with real layer shapes, and tests.
#pragma once

#include <cstdint>
#include <string>

namespace dsv4 {

// Writes DIR/config.json (config_json, validated) and DIR/model.safetensors.
// Throws dsv4::Error on a bad config or I/O failure.
void WriteSyntheticCheckpoint(const std::string& dir, const std::string& config_json,
                              uint64_t seed);

// The config of a checkpoint with V4-Flash's layer shapes and dtypes (spec §1) but
// `layers` layers (alternating CSA and HCA) and no MTP block, for benchmarks.
std::string FlashShapedConfig(int layers);

// The directory of the Flash-shaped benchmark checkpoint with `layers` layers under
// `cache_dir` (empty: DefaultCacheDir(), core/cache_dir.h), generated on first use
// (about 4.6 GB per layer plus 2 GB of embedding and head).
std::string EnsureFlashShapedCheckpoint(std::string cache_dir, int layers);

}  // namespace dsv4
