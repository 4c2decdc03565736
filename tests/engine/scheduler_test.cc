#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include "engine/stop_matcher.h"

namespace dsv4 {
namespace {

TEST(SchedulerTest, DecodesFirstThenPrefillChunksWithinTheBudget) {
  std::vector<SequenceView> v(4);
  v[0] = {.pending = 1000, .decoding = false, .fed = 0};
  v[1] = {.pending = 1, .decoding = true, .fed = 50};
  v[2] = {.pending = 50, .decoding = false, .fed = 0};
  v[3] = {.pending = 1, .decoding = true, .fed = 9};
  std::vector<PlannedChunk> plan;
  PlanStep(v, {.prefill_chunk = 64, .step_tokens = 100}, &plan);
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].sequence, 1u);
  EXPECT_EQ(plan[1].sequence, 3u);
  EXPECT_EQ(plan[2].sequence, 0u);
  EXPECT_EQ(plan[2].tokens, 64);
  EXPECT_EQ(plan[3].sequence, 2u);
  EXPECT_EQ(plan[3].tokens, 100 - 2 - 64);
}

TEST(SchedulerTest, ChunksStopAtSnapshotPointsAndAStepAlwaysProgresses) {
  std::vector<SequenceView> v(1);
  v[0] = {.pending = 500, .decoding = false, .fed = 100, .cut_at = 128};
  std::vector<PlannedChunk> plan;
  PlanStep(v, {.prefill_chunk = 256, .step_tokens = 0}, &plan);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].tokens, 28);
}

TEST(StopMatcherTest, FindsStopsAcrossChunksAndHoldsBackPossibleStarts) {
  StopMatcher m({"</end>", "STOP"});
  auto r = m.Push("hello </e");
  EXPECT_EQ(r.text, "hello ");
  EXPECT_FALSE(r.stopped);
  r = m.Push("nx ST");
  EXPECT_EQ(r.text, "</enx ");
  r = m.Push("OP and more");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "");
  StopMatcher n({"ab"});
  EXPECT_EQ(n.Push("xxa").text, "xx");
  EXPECT_EQ(n.Finish(), "a");
}

}  // namespace
}  // namespace dsv4
