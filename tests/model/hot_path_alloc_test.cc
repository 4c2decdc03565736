// No heap allocation in the hot path (issue 6): once a sequence's first steps have grown
// the forward pass's reused buffers, decode steps (batch 1 and batched) and repeated
// prefill chunks allocate nothing. Every operator new of the process (all threads) is
// counted while the steps run. The states reserve room for their caches
// (SequenceState::Reserve, as the engine does), and the prompts are longer than the
// windows and 4 x index_topk, so the per-row key lists have their full size; what may
// still allocate is a list growing with the context (an HCA layer's keys gain an entry
// every 128 positions), and a pool worker's own scratch the first time it takes a kind
// of task (which thread takes which chunk varies from run to run), never per step.
// DSV4_TRACE_ALLOC=1 prints the call stack of each counted allocation.
#include <execinfo.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "kernels/precision.h"
#include "model/forward/model.h"
#include "model/synthetic_checkpoint.h"
#include "synthetic_configs.h"

namespace {

std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_allocations{0};
thread_local bool t_tracing = false;  // inside the trace printer (backtrace allocates)

void Note() {
  if (!g_counting.load(std::memory_order_relaxed)) return;
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  static const bool trace = std::getenv("DSV4_TRACE_ALLOC") != nullptr;
  if (trace && !t_tracing) {
    t_tracing = true;
    void* frames[16];
    const int n = backtrace(frames, 16);
    static const char kHeader[] = "-- allocation in a counted step:\n";
    (void)!write(2, kHeader, sizeof(kHeader) - 1);
    backtrace_symbols_fd(frames + 1, n - 1, 2);
    t_tracing = false;
  }
}

void* Allocate(size_t size, size_t align) {
  Note();
  void* p = align <= alignof(std::max_align_t) ? std::malloc(size == 0 ? 1 : size)
                                               : std::aligned_alloc(align, (size + align - 1) / align * align);
  return p;
}

}  // namespace

// The process's allocation functions, counting (the sized and aligned deletes fall back
// to these frees).
void* operator new(size_t size) {
  if (void* p = Allocate(size, 0)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return operator new(size); }
void* operator new(size_t size, std::align_val_t align) {
  if (void* p = Allocate(size, size_t(align))) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size, std::align_val_t align) { return operator new(size, align); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return Allocate(size, 0); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return Allocate(size, 0); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }

namespace dsv4 {
namespace {

const std::string kFixtures = std::string(DSV4_SOURCE_DIR) + "/tests/fixtures/models/";

// Heap allocations made (on any thread) while fn runs.
template <typename Fn>
int64_t AllocationsDuring(Fn&& fn) {
  const int64_t before = g_allocations.load();
  g_counting = true;
  fn();
  g_counting = false;
  return g_allocations.load() - before;
}

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

// Heap allocations of each call of `step`, n calls.
template <typename Step>
std::vector<int64_t> AllocationsPerCall(int n, Step&& step) {
  std::vector<int64_t> counts;
  counts.reserve(size_t(n));
  for (int i = 0; i < n; ++i) counts.push_back(AllocationsDuring(step));
  return counts;
}

// "3 steps of 64 allocated: 0 0 5 0 ..." for a failure message.
std::string Describe(const std::vector<int64_t>& counts, const char* what) {
  int64_t allocating = 0;
  std::string list;
  for (int64_t n : counts) allocating += n > 0, list += " " + std::to_string(n);
  return std::to_string(allocating) + " " + what + " of " + std::to_string(counts.size()) +
         " allocated (heap allocations each:" + list + "; DSV4_TRACE_ALLOC=1 shows where)";
}

int64_t CallsThatAllocated(const std::vector<int64_t>& counts) {
  return std::count_if(counts.begin(), counts.end(), [](int64_t n) { return n > 0; });
}

constexpr int kWarmSteps = 3, kCountedSteps = 64;
constexpr int64_t kPositions = 208;  // reserved per state: the prompt and every step fit

// Growth now and then (above) lands in a few steps; an allocation in the step's own code
// lands in every one (the code before this test: 80-200 per decode step, 1,000-2,700 per
// 16-token chunk). So: most steps allocate nothing.
TEST_P(HotPathAllocTest, DecodeStepsDoNotAllocate) {
  for (int B : {1, 3}) {
    Decoder decoder(*model_, B, kPositions);
    for (int i = 0; i < kWarmSteps; ++i) decoder.Step();
    const std::vector<int64_t> counts = AllocationsPerCall(kCountedSteps, [&] { decoder.Step(); });
    EXPECT_LE(CallsThatAllocated(counts), kCountedSteps / 8) << "batch " << B << ": " << Describe(counts, "steps");
  }
}

TEST_P(HotPathAllocTest, PrefillChunksDoNotAllocate) {
  const Model& model = *model_;
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
  const std::vector<int64_t> counts = AllocationsPerCall(8, chunk);
  EXPECT_LE(CallsThatAllocated(counts), 4) << Describe(counts, "chunks");
}

INSTANTIATE_TEST_SUITE_P(Models, HotPathAllocTest,
                         testing::Combine(testing::Values("tiny-bf16", "tiny-fp8", "wide"), testing::Bool()));

}  // namespace
}  // namespace dsv4
