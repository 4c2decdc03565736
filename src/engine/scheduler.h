// Step planning for continuous batching with chunked prefill: which tokens of which
// running sequences go into the next forward pass. Pure logic, no model: every decoding
// sequence gets its one token (decodes never wait behind a long prompt), then prefilling
// sequences, oldest first, get chunks up to the chunk size within the step's token budget.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dsv4 {

struct SchedulerOptions {
  int64_t prefill_chunk = 256;  // most prompt tokens of one sequence per step
  int64_t step_tokens = 1024;   // most tokens per step (decodes always fit)
};

// One running sequence as the scheduler sees it.
struct SequenceView {
  int64_t pending = 0;      // tokens known but not yet fed to the model
  bool decoding = false;    // its whole prompt is in; pending is the last sampled token
  int64_t fed = 0;          // tokens already fed (its state's length)
  int64_t cut_at = -1;      // a chunk must end here if it would cross it (snapshot point)
};

struct PlannedChunk {
  size_t sequence = 0;  // index into the views
  int64_t tokens = 0;   // how many of its pending tokens to feed
};

// Chunks in the order given: decodes, then prefills (views are in admission order), into
// *plan (the engine's, reused from step to step).
void PlanStep(const std::vector<SequenceView>& views, const SchedulerOptions& options,
              std::vector<PlannedChunk>* plan);

}  // namespace dsv4
