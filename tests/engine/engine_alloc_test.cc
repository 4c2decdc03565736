// No heap allocation in the engine's decode steps either (issue 6): once its sequences
// decode, Engine::Step (scheduling, the forward pass, sampling, the events) allocates
// nothing but the now-and-then growth of each sequence's token list. Counts every
// operator new (all threads, core/alloc_counter.h); DSV4_TRACE_ALLOC=1 shows where.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/alloc_counter.h"
#include "engine_test_util.h"

namespace dsv4 {
namespace {

// B greedy or sampled requests of 64 new tokens on the bundled model, stepped by hand:
// the steps after every sequence's prompt is in, each counted on its own.
std::vector<int64_t> DecodeStepAllocations(int B, const SamplingParams& sampling) {
  Engine engine(testing::TinyModel(), nullptr, EngineOptions{});
  int64_t events = 0;
  for (int b = 0; b < B; ++b) {
    GenerationRequest r;
    r.prompt = testing::Prompt(size_t(40 + 3 * b), uint32_t(b));
    r.max_tokens = 64;
    r.ignore_eos = true;
    r.sampling = sampling;
    r.on_event = [&events](const StreamEvent&) { ++events; };
    EXPECT_TRUE(engine.Submit(std::move(r)).ok());
  }
  for (int i = 0; i < 8; ++i) engine.Step();  // prompts in, the first tokens decoded
  const std::vector<int64_t> counts = alloc_counter::PerCall(40, [&] { engine.Step(); });
  EXPECT_GT(events, 40 * B);
  return counts;
}

TEST(EngineAllocTest, GreedyDecodeStepsDoNotAllocate) {
  SamplingParams greedy;
  greedy.temperature = 0;
  for (int B : {1, 4}) {
    const std::vector<int64_t> counts = DecodeStepAllocations(B, greedy);
    // (A token list doubling, a pool worker's first use of its scratch: a few steps.)
    EXPECT_LE(alloc_counter::CallsThatAllocated(counts), 5) << "batch " << B << ": "
                                                           << alloc_counter::Describe(counts, "steps");
  }
}

TEST(EngineAllocTest, SampledDecodeStepsWithPenaltiesDoNotAllocate) {
  SamplingParams sampled;
  sampled.temperature = 0.8;
  sampled.top_p = 0.9;
  sampled.top_k = 50;
  sampled.seed = 7;
  sampled.presence_penalty = 0.5;
  sampled.frequency_penalty = 0.2;
  sampled.repetition_penalty = 1.1;
  const std::vector<int64_t> counts = DecodeStepAllocations(2, sampled);
  EXPECT_LE(alloc_counter::CallsThatAllocated(counts), 5) << alloc_counter::Describe(counts, "steps");
}

}  // namespace
}  // namespace dsv4
