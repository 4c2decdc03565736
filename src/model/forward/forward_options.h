// Options of one forward pass.
#pragma once

namespace dsv4 {

struct ForwardOptions {
  // Simulate the reference's activation quantisation (FP8 inputs of FP8/FP4 linears,
  // Q8_64 on KV, Q4_32 in the indexer). false = the --no-act-quant diagnostic mode.
  bool act_quant = true;
  // Lay out a prefill from position 0 as the reference does (min(T, W) window slots and
  // padded compressed slots per query), so its 64-slot softmax blocks group keys the
  // same way. Off (the engine's default), every position uses the decode layout, so a
  // row's arithmetic never depends on the chunk it was computed in (batch and prefix-
  // cache invariance). The two differ only once a query sees more than 64 keys.
  bool reference_prefill_layout = false;
};

}  // namespace dsv4
