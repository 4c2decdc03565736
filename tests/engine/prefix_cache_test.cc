#include "engine/prefix_cache.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "engine/engine.h"
#include "engine_test_util.h"

namespace dsv4 {
namespace {

using testing::BitIdentical;
using testing::Greedy;
using testing::Prompt;
using testing::RunAlone;
using testing::TinyModel;

EngineOptions CachedOptions(int64_t budget, std::string dir = "") {
  EngineOptions o;
  o.prefix_cache.budget_bytes = budget;
  o.prefix_cache.block = 128;
  o.prefix_cache.interval = 128;
  o.prefix_cache.directory = std::move(dir);
  o.scheduler.prefill_chunk = 100;  // chunks that do not line up with the blocks
  return o;
}

RequestStream::Collected RunIn(Engine& engine, GenerationRequest r) {
  RequestStream stream;
  r.on_event = stream.Callback();
  auto id = engine.Submit(std::move(r));
  if (!id.ok()) throw Error(id.error());
  engine.RunUntilIdle();
  return stream.Collect();
}

void ExpectSameLogits(const RequestStream::Collected& a, const RequestStream::Collected& b) {
  ASSERT_EQ(a.tokens, b.tokens);
  ASSERT_EQ(a.logits.size(), b.logits.size());
  for (size_t k = 0; k < a.logits.size(); ++k) EXPECT_TRUE(BitIdentical(a.logits[k], b.logits[k])) << k;
}

std::string TempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("dsv4_prefix_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

TEST(PrefixCacheTest, AHitGivesTheColdRunsLogitsAndReportsCachedTokens) {
  Engine engine(TinyModel(), nullptr, CachedOptions(64 << 20));
  std::vector<int32_t> shared = Prompt(300, 1);
  auto first = RunIn(engine, Greedy(shared, 4));
  EXPECT_EQ(first.usage.cached_tokens, 0);
  EXPECT_EQ(engine.stats().prefix_cache.entries, 2);  // at 128 and 256

  // A new prompt extending the shared prefix reuses 256 tokens of state.
  std::vector<int32_t> longer = shared;
  for (int32_t t : Prompt(40, 2)) longer.push_back(t);
  auto warm = RunIn(engine, Greedy(longer, 5));
  EXPECT_EQ(warm.usage.cached_tokens, 256);
  ExpectSameLogits(warm, RunAlone(Greedy(longer, 5)));

  // A prompt that diverges at token 200 reuses the snapshot at 128 only.
  std::vector<int32_t> forked(shared.begin(), shared.begin() + 200);
  for (int32_t t : Prompt(100, 3)) forked.push_back(t);
  auto fork = RunIn(engine, Greedy(forked, 3));
  EXPECT_EQ(fork.usage.cached_tokens, 128);
  ExpectSameLogits(fork, RunAlone(Greedy(forked, 3)));

  // The same prompt again: the last prompt token is always recomputed for its logits.
  auto again = RunIn(engine, Greedy(shared, 4));
  EXPECT_EQ(again.usage.cached_tokens, 256);
  ExpectSameLogits(again, first);
  EXPECT_EQ(engine.stats().prefix_cache.hits, 3);

  // Opting out.
  GenerationRequest off = Greedy(shared, 2);
  off.use_prefix_cache = false;
  EXPECT_EQ(RunIn(engine, off).usage.cached_tokens, 0);
}

TEST(PrefixCacheTest, TheNextTurnOfAConversationHitsTheGeneratedPart) {
  Engine engine(TinyModel(), nullptr, CachedOptions(64 << 20));
  std::vector<int32_t> prompt = Prompt(100, 5);
  auto turn1 = RunIn(engine, Greedy(prompt, 60));  // 160 tokens: a boundary at 128 in the output
  std::vector<int32_t> next = prompt;
  next.insert(next.end(), turn1.tokens.begin(), turn1.tokens.end());
  for (int32_t t : Prompt(20, 6)) next.push_back(t);
  auto turn2 = RunIn(engine, Greedy(next, 4));
  EXPECT_EQ(turn2.usage.cached_tokens, 128);
  ExpectSameLogits(turn2, RunAlone(Greedy(next, 4)));
}

TEST(PrefixCacheTest, EvictionKeepsTheBudgetAndDropsTheLeastRecentlyUsed) {
  const Model& model = TinyModel();
  auto state = model.NewState(false);
  std::vector<float> logits;
  std::vector<ForwardSegment> segs(1);
  segs[0].state = state.get();
  segs[0].logits = &logits;
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::unique_ptr<SequenceState>> states;
  for (uint32_t i = 0; i < 4; ++i) {
    prompts.push_back(Prompt(128, 10 + i));
    state->Reset();
    segs[0].tokens = prompts.back();
    model.Forward(segs, {});
    states.push_back(std::make_unique<SequenceState>(*state));
  }
  const int64_t entry = states[0]->bytes() + 128 * 4;
  PrefixCacheOptions o;
  o.budget_bytes = 2 * entry + entry / 2;  // room for two
  PrefixCache cache(model.config(), "test", o);
  cache.Insert(prompts[0], *states[0]);
  cache.Insert(prompts[1], *states[1]);
  auto probe = model.NewState(false);
  std::vector<int32_t> query = prompts[0];
  query.push_back(7);
  EXPECT_EQ(cache.Lookup(query, 129, probe.get()), 128);  // 0 is now the most recent
  cache.Insert(prompts[2], *states[2]);                   // evicts 1
  EXPECT_LE(cache.stats().bytes, o.budget_bytes);
  EXPECT_EQ(cache.stats().entries, 2);
  EXPECT_EQ(cache.stats().evictions, 1);
  EXPECT_TRUE(cache.Contains(prompts[0]));
  EXPECT_FALSE(cache.Contains(prompts[1]));
  EXPECT_TRUE(cache.Contains(prompts[2]));
  cache.Insert(prompts[3], *states[3]);  // evicts 0
  EXPECT_FALSE(cache.Contains(prompts[0]));
  EXPECT_LE(cache.stats().bytes, o.budget_bytes);
  // A lookup never matches more than max_len, and a miss leaves the state alone.
  probe->Reset();
  EXPECT_EQ(cache.Lookup(prompts[3], 127, probe.get()), 0);
  EXPECT_EQ(probe->length(), 0);
}

TEST(PrefixCacheTest, PersistedSnapshotsSurviveARestart) {
  const std::string dir = TempDir("restart");
  std::vector<int32_t> prompt = Prompt(270, 8);
  {
    Engine engine(TinyModel(), nullptr, CachedOptions(64 << 20, dir));
    RunIn(engine, Greedy(prompt, 2));
    EXPECT_EQ(engine.stats().prefix_cache.entries, 2);
  }
  std::vector<int32_t> longer = prompt;
  for (int32_t t : Prompt(30, 9)) longer.push_back(t);
  Engine restarted(TinyModel(), nullptr, CachedOptions(64 << 20, dir));
  EXPECT_EQ(restarted.stats().prefix_cache.loaded, 2);
  auto warm = RunIn(restarted, Greedy(longer, 4));
  EXPECT_EQ(warm.usage.cached_tokens, 256);
  ExpectSameLogits(warm, RunAlone(Greedy(longer, 4)));

  // Another model's engine on the same directory rejects the files, and a damaged file
  // is skipped.
  auto other = Model::Load(std::string(DSV4_SOURCE_DIR) + "/tests/fixtures/models/tiny-bf16");
  ASSERT_TRUE(other.ok()) << other.error();
  Engine foreign(*other.value(), nullptr, CachedOptions(64 << 20, dir));
  EXPECT_EQ(foreign.stats().prefix_cache.loaded, 0);
  EXPECT_EQ(foreign.stats().prefix_cache.rejected, 2);
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    std::filesystem::resize_file(f.path(), 100);
  }
  Engine damaged(TinyModel(), nullptr, CachedOptions(64 << 20, dir));
  EXPECT_EQ(damaged.stats().prefix_cache.loaded, 0);
  EXPECT_GT(damaged.stats().prefix_cache.rejected, 0);
  std::filesystem::remove_all(dir);
}

TEST(PrefixCacheTest, ABlockThatSplitsACompressionBlockIsRefused) {
  PrefixCacheOptions o;
  o.budget_bytes = 1 << 20;
  o.block = 64;  // the tiny model has a ratio-128 layer
  EXPECT_THROW(PrefixCache(TinyModel().config(), "x", o), Error);
}

}  // namespace
}  // namespace dsv4
