// SequenceState <-> bytes, for persisted prefix-cache snapshots. The layout is a private
// format of this engine version ("DSV4PFX2"; caches in the state's storage, bf16 or
// compact); a file is always validated against the model's own state shapes before use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/config.h"
#include "model/forward/state.h"

namespace dsv4 {

struct Snapshot {
  std::string identity;
  std::vector<int32_t> tokens;
};

// Writes identity, tokens and state to `path` (atomically: core/atomic_file.h).
Status WriteSnapshot(const std::string& path, const Snapshot& meta, const SequenceState& state);
// Reads a file written by WriteSnapshot into *meta and *state (which must have been
// made for `config`); fails on any mismatch with the config or a damaged file.
Status ReadSnapshot(const std::string& path, const ModelConfig& config, Snapshot* meta,
                    SequenceState* state);

}  // namespace dsv4
