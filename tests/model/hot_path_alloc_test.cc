// No heap allocation in the hot path (issue 6): once a sequence's first steps have grown
// the forward pass's reused buffers, decode steps (batch 1 and batched) and repeated
// prefill chunks allocate nothing. Every operator new of the process (all threads) is
// counted while the steps run (core/alloc_counter.h). The states reserve room for their caches
// (SequenceState::Reserve, as the engine does), and the prompts are longer than the
// windows and 4 x index_topk, so the per-row key lists have their full size; what may
// still allocate is a list growing with the context (an HCA layer's keys gain an entry
// every 128 positions), and a pool worker's own scratch the first time it takes a kind
// of task (which thread takes which chunk varies from run to run), never per step.
// DSV4_TRACE_ALLOC=1 prints the call stack of each counted allocation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/alloc_counter.h"
#include "kernels/precision.h"
#include "model/forward/model.h"
#include "model/synthetic_checkpoint.h"
#include "synthetic_configs.h"

namespace dsv4 {
namespace {

const std::string kFixtures = std::string(DSV4_SOURCE_DIR) + "/tests/fixtures/models/";

// B sequences with a short prompt each, then decode steps of one token for all of them.
class Decoder {
 public:
  Decoder(const Model& model, int B, int64_t positions) : model_(model), segs_(size_t(B)), logits_(size_t(B)) {
    std::mt19937 rng{uint32_t(B)};
    for (int b = 0; b < B; ++b) {
      states_.push_back(model.NewState(false));
      states_.back()->Reserve(positions);
      segs_[size_t(b)].state = states_.back().get();
      segs_[size_t(b)].logits = &logits_[size_t(b)];
      for (int i = 0; i < 64 + 4 * b; ++i) segs_[size_t(b)].tokens.push_back(Token(rng()));
    }
    model.Forward(segs_, {});
  }
  void Step() {
    for (size_t b = 0; b < segs_.size(); ++b) segs_[b].tokens.assign(1, Token(uint32_t(steps_ * 31 + b * 7)));
    ++steps_;
    model_.Forward(segs_, {});
  }

 private:
  int32_t Token(uint32_t r) const { return int32_t(r % uint32_t(model_.config().vocab_size)); }
  const Model& model_;
  std::vector<std::unique_ptr<SequenceState>> states_;
  std::vector<ForwardSegment> segs_;
  std::vector<std::vector<float>> logits_;
  int64_t steps_ = 0;
};

// The wide checkpoint, written once per process into a directory of its own (ctest runs
// each case as a process, several at once) and removed at exit.
struct WideCheckpoint {
  std::string dir = testing::TempDir() + "/dsv4_hot_path_wide_" + std::to_string(getpid());
  WideCheckpoint() {
    std::filesystem::remove_all(dir);
    WriteSyntheticCheckpoint(dir, WideSyntheticConfig(32), 11);
  }
  ~WideCheckpoint() { std::filesystem::remove_all(dir); }
};

std::string ModelDir(const std::string& name) {
  if (name != "wide") return kFixtures + name;
  static const WideCheckpoint wide;
  return wide.dir;
}

// (model, precise math): the model loaded and the mode set for each test.
class HotPathAllocTest : public testing::TestWithParam<std::tuple<std::string, bool>> {
 protected:
  void SetUp() override {
    const auto [name, precise] = GetParam();
    kernels::SetPreciseMath(precise);
    auto loaded = Model::Load(ModelDir(name));
    ASSERT_TRUE(loaded.ok()) << loaded.error();
    model_ = std::move(loaded.value());
  }
  void TearDown() override { kernels::SetPreciseMath(false); }
  std::unique_ptr<Model> model_;
};

constexpr int kWarmSteps = 3, kCountedSteps = 64;
constexpr int64_t kPositions = 208;  // reserved per state: the prompt and every step fit

// Growth now and then (above) lands in a few steps; an allocation in the step's own code
// lands in every one (the code before this test: 80-200 per decode step, 1,000-2,700 per
// 16-token chunk). So: most steps allocate nothing.
TEST_P(HotPathAllocTest, DecodeStepsDoNotAllocate) {
  for (int B : {1, 3}) {
    Decoder decoder(*model_, B, kPositions);
    for (int i = 0; i < kWarmSteps; ++i) decoder.Step();
    const std::vector<int64_t> counts = alloc_counter::PerCall(kCountedSteps, [&] { decoder.Step(); });
    EXPECT_LE(alloc_counter::CallsThatAllocated(counts), kCountedSteps / 8) << "batch " << B << ": " << alloc_counter::Describe(counts, "steps");
  }
}

// A pool worker's scratch grows the first time it takes a kind of task, and on a loaded
// machine a worker can sit out whole chunks, so that first time can fall among the counted
// chunks (with three busy loops on the 2-core VM, 5-6 of 8 chunks allocated in 29 of 200
// runs of the wide case alone). A second sequence in the same process finds those
// scratches grown, so up to three sequences are tried; an allocation of the chunk's own
// code shows in every one of them.
TEST_P(HotPathAllocTest, PrefillChunksDoNotAllocate) {
  const Model& model = *model_;
  std::string last;
  for (int sequence = 0; sequence < 3; ++sequence) {
    auto state = model.NewState(false);
    state->Reserve(kPositions);  // the 12 chunks below
    std::vector<ForwardSegment> segs(1);
    std::vector<float> logits;
    segs[0].state = state.get();
    segs[0].logits = &logits;
    std::mt19937 rng(5);
    auto chunk = [&] {
      segs[0].tokens.resize(16);
      for (int32_t& t : segs[0].tokens) t = int32_t(rng() % uint32_t(model.config().vocab_size));
      model.Forward(segs, {});
    };
    for (int i = 0; i < 4; ++i) chunk();  // 64 positions: past the windows and 4 x index_topk
    const std::vector<int64_t> counts = alloc_counter::PerCall(8, chunk);
    if (alloc_counter::CallsThatAllocated(counts) <= 4) return;
    last = alloc_counter::Describe(counts, "chunks");
  }
  ADD_FAILURE() << "more than 4 of 8 chunks allocated in each of 3 sequences; the last: " << last;
}

INSTANTIATE_TEST_SUITE_P(Models, HotPathAllocTest,
                         testing::Combine(testing::Values("tiny-bf16", "tiny-fp8", "wide"), testing::Bool()));

}  // namespace
}  // namespace dsv4
