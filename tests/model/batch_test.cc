// Batch invariance: several sequences in one forward step (prefill chunks mixed with
// decode tokens) give bit-identical logits and states to each sequence run alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/precision.h"
#include "model/forward/model.h"

namespace dsv4 {
namespace {

const std::string kFixtures = std::string(DSV4_SOURCE_DIR) + "/tests/fixtures/models/";

std::vector<int32_t> RandomTokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int32_t& v : t) v = int32_t(rng() % uint32_t(vocab));
  return t;
}

// Runs `tokens` alone in chunks of `chunk`, returning the logits of every position.
std::vector<float> Solo(const Model& model, const std::vector<int32_t>& tokens, size_t chunk) {
  auto state = model.NewState(false);
  std::vector<float> all;
  for (size_t b = 0; b < tokens.size(); b += chunk) {
    std::vector<float> rows;
    std::vector<ForwardSegment> segs(1);
    segs[0].state = state.get();
    segs[0].tokens.assign(tokens.begin() + long(b), tokens.begin() + long(std::min(tokens.size(), b + chunk)));
    segs[0].all_logits = true;
    segs[0].logits = &rows;
    model.Forward(segs, {});
    all.insert(all.end(), rows.begin(), rows.end());
  }
  return all;
}

// Runs all prompts together: each step takes the next chunks[i] tokens of every sequence
// that has tokens left (late steps are decodes). Returns the logits of every position.
std::vector<std::vector<float>> Batched(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                        const std::vector<size_t>& chunks) {
  std::vector<std::unique_ptr<SequenceState>> states;
  std::vector<std::vector<float>> batched(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) states.push_back(model.NewState(false));
  std::vector<size_t> done(prompts.size(), 0);
  for (;;) {
    std::vector<ForwardSegment> segs;
    std::vector<std::vector<float>> rows(prompts.size());
    std::vector<size_t> who;
    for (size_t i = 0; i < prompts.size(); ++i) {
      if (done[i] == prompts[i].size()) continue;
      const size_t n = std::min(chunks[i], prompts[i].size() - done[i]);
      ForwardSegment s;
      s.state = states[i].get();
      s.tokens.assign(prompts[i].begin() + long(done[i]), prompts[i].begin() + long(done[i] + n));
      s.all_logits = true;
      s.logits = &rows[i];
      segs.push_back(std::move(s));
      who.push_back(i);
      done[i] += n;
    }
    if (segs.empty()) break;
    model.Forward(segs, {});
    for (size_t i : who) batched[i].insert(batched[i].end(), rows[i].begin(), rows[i].end());
  }
  return batched;
}

// (fixture, precise math on or off): the model loaded and the mode set for each test.
class BatchTest : public testing::TestWithParam<std::tuple<std::string, bool>> {
 protected:
  void SetUp() override {
    const auto [name, precise] = GetParam();
    kernels::SetPreciseMath(precise);
    auto loaded = Model::Load(kFixtures + name);
    ASSERT_TRUE(loaded.ok()) << loaded.error();
    model_ = std::move(loaded.value());
  }
  void TearDown() override { kernels::SetPreciseMath(false); }
  std::unique_ptr<Model> model_;
};

TEST_P(BatchTest, MixedStepsMatchSoloRuns) {
  const Model& model = *model_;
  const int V = int(model.config().vocab_size);
  // Three sequences of different lengths with different chunk sizes.
  const std::vector<std::vector<int32_t>> prompts = {
      RandomTokens(70, V, 1), RandomTokens(9, V, 2), RandomTokens(41, V, 3)};
  const std::vector<std::vector<float>> batched = Batched(model, prompts, {16, 1, 7});
  for (size_t i = 0; i < prompts.size(); ++i) {
    // Solo in one whole prefill, and solo token by token: the same bits.
    EXPECT_EQ(batched[i], Solo(model, prompts[i], prompts[i].size())) << "sequence " << i;
    EXPECT_EQ(batched[i], Solo(model, prompts[i], 1)) << "sequence " << i;
  }
}

// A batch of decode-sized steps from more sequences than twice the pool's threads (the
// attention then runs one pool task per sequence): each sequence's logits are those of
// the sequence alone.
TEST_P(BatchTest, ManySmallSequencesMatchSoloRuns) {
  const Model& model = *model_;
  const int V = int(model.config().vocab_size);
  const size_t n = 2 * GlobalThreadPool().size() + 1;
  std::vector<std::vector<int32_t>> prompts;
  std::vector<size_t> chunks;
  for (size_t i = 0; i < n; ++i) {
    prompts.push_back(RandomTokens(int(10 + 3 * i), V, uint32_t(20 + i)));
    chunks.push_back(1 + i % 3);  // 1..3 rows a step
  }
  const std::vector<std::vector<float>> batched = Batched(model, prompts, chunks);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(batched[i], Solo(model, prompts[i], 1)) << "sequence " << i;
}

INSTANTIATE_TEST_SUITE_P(Models, BatchTest,
                         testing::Combine(testing::Values("tiny-bf16", "tiny-fp8"),
                                          testing::Bool()));

TEST(BatchTest, BadStepChangesNothing) {
  auto loaded = Model::Load(kFixtures + "tiny-fp8");
  ASSERT_TRUE(loaded.ok());
  const Model& model = *loaded.value();
  auto a = model.NewState(false), b = model.NewState(false);
  std::vector<ForwardSegment> segs(2);
  segs[0].state = a.get();
  segs[0].tokens = {1, 2, 3};
  segs[1].state = b.get();
  segs[1].tokens = {4, int32_t(model.config().vocab_size)};  // out of range
  EXPECT_THROW(model.Forward(segs, {}), Error);
  EXPECT_EQ(a->length(), 0);
  EXPECT_EQ(b->length(), 0);
  segs[1].state = a.get();  // the same sequence twice
  segs[1].tokens = {4};
  EXPECT_THROW(model.Forward(segs, {}), Error);
  EXPECT_EQ(a->length(), 0);
}

}  // namespace
}  // namespace dsv4
