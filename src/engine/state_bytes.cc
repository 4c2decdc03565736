#include "engine/state_bytes.h"

#include "model/forward/costs.h"

namespace dsv4 {

// The same formula `dsv4 inspect` reports (costs.h); the engine tests check it against
// SequenceState::bytes().
int64_t EstimateStateBytes(const ModelConfig& config, int64_t tokens, KvStorage storage) {
  return KvBytesAt(config, tokens, storage);
}

}  // namespace dsv4
