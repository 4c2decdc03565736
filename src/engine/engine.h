// The serving engine: one engine thread owns the model's per-sequence state and runs
// steps; any thread submits requests and cancels them. A step packs one decode token of
// every generating sequence plus prefill chunks of the others into a single
// Model::Forward call (continuous batching, chunked prefill), samples, and emits events.
//
// Threading: Submit, Cancel and stats are thread-safe. Either Start() the engine thread,
// or (tests, single-threaded tools) call Step()/RunUntilIdle() from one thread and never
// Start(). Events are delivered on the thread that runs the steps.
//
// Memory: each admitted sequence reserves EstimateStateBytes(prompt + max new tokens);
// sequences wait in the queue while the reservations would exceed memory_budget_bytes,
// and a request that could never fit is refused at Submit. The prefix cache has its own
// budget (PrefixCacheOptions).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "engine/prefix_cache.h"
#include "engine/request.h"
#include "engine/scheduler.h"
#include "model/forward/model.h"
#include "tokenizer/tokenizer.h"

namespace dsv4 {

struct EngineOptions {
  int64_t max_queue = 64;    // requests waiting beyond the free batch slots; Submit fails
                             // with "overloaded" beyond
  int64_t max_running = 16;  // sequences generating at once (the batch)
  SchedulerOptions scheduler;
  int64_t context_length = 0;       // prompt + generated; 0 = max_position_embeddings
  int64_t memory_budget_bytes = 0;  // sequence state reservations; 0 = unlimited
  ForwardOptions forward;
  PrefixCacheOptions prefix_cache;  // budget 0 = no prefix cache
};

struct EngineStats {
  int64_t steps = 0;
  int64_t forward_tokens = 0;   // tokens through the model
  int64_t generated_tokens = 0;
  int64_t running = 0, waiting = 0;
  int64_t reserved_bytes = 0;   // sequence state reservations of running requests
  PrefixCacheStats prefix_cache;
};

class Engine {
 public:
  // `model` (and `tokenizer`, optional: text, stop strings) must outlive the engine.
  Engine(const Model& model, const tokenizer::Tokenizer* tokenizer, EngineOptions options);
  ~Engine();  // stops the engine thread; unfinished requests end as kCancelled
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Validates and queues a request; its id, or why it was refused (bad input, prompt
  // over the context limit, cache would not fit the memory budget, "overloaded").
  Result<uint64_t> Submit(GenerationRequest request);
  // Ends a request: its sequence is freed at the next step boundary and it gets a final
  // kCancelled event. Unknown or finished ids are ignored.
  void Cancel(uint64_t id);

  void Start();  // runs steps on an engine thread until Stop()
  void Stop();   // joins the thread; everything unfinished is cancelled

  // One step in the calling thread; false when there was nothing to do.
  bool Step();
  void RunUntilIdle() {
    while (Step()) {
    }
  }

  EngineStats stats() const;
  int64_t context_length() const { return context_length_; }
  const Model& model() const { return model_; }

 private:
  struct Sequence;
  void Loop();
  void Intake();                         // cancels and admissions from the shared queue
  void Begin(Sequence* seq);             // state (maybe from the prefix cache), sampler
  void SampleAndEmit(Sequence* seq, const std::vector<float>& logits);
  void Finish(Sequence* seq, StreamEvent event, FinishReason reason, std::string error = "");
  void Emit(Sequence* seq, const StreamEvent& event);
  void MaybeSnapshot(Sequence* seq);
  int64_t CutPoint(const Sequence& seq) const;
  void Shutdown();

  const Model& model_;
  const tokenizer::Tokenizer* tokenizer_;
  EngineOptions options_;
  int64_t context_length_;
  std::unique_ptr<PrefixCache> prefix_cache_;

  // Shared with submitting threads.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::set<uint64_t> cancelled_;
  uint64_t next_id_ = 1;
  bool stop_ = false;
  int64_t reserved_bytes_ = 0;
  EngineStats stats_;

  // Engine thread only.
  std::vector<std::unique_ptr<Sequence>> running_;
  // Step's bookkeeping, reused from step to step (engine thread only): the sequences'
  // views, the plan, logits rows and forward segments.
  std::vector<SequenceView> step_views_;
  std::vector<PlannedChunk> step_plan_;
  std::vector<std::vector<float>> step_logits_;
  std::vector<ForwardSegment> step_segs_;
  std::thread thread_;
};

}  // namespace dsv4
