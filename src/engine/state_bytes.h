// Memory accounting for per-sequence state: the bytes SequenceState::bytes() will report
// once a sequence has processed n tokens (window and compressor partials are constant;
// compressed entries and indexer keys grow by one row per ratio tokens).
#pragma once

#include <cstdint>

#include "model/config.h"
#include "model/forward/state.h"

namespace dsv4 {

// Trunk layers only (the engine does not keep MTP state).
int64_t EstimateStateBytes(const ModelConfig& config, int64_t tokens,
                           KvStorage storage = KvStorage::kCompact);

}  // namespace dsv4
