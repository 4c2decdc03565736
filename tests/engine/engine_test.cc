#include "engine/engine.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "engine/state_bytes.h"
#include "engine_test_util.h"

namespace dsv4 {
namespace {

using testing::BitIdentical;
using testing::Greedy;
using testing::Prompt;
using testing::RunAlone;
using testing::TinyModel;

// Several sequences of different lengths, prefill chunks mixed with decodes, one forward
// call per step: every logits row equals the sequence's solo run bit for bit.
void ExpectBatchMatchesSolo(int64_t chunk, int64_t step_tokens) {
  const std::vector<size_t> lengths = {1, 7, 50, 130, 300};
  const int64_t kNew = 6;
  EngineOptions options;
  options.scheduler.prefill_chunk = chunk;
  options.scheduler.step_tokens = step_tokens;
  Engine engine(TinyModel(), nullptr, options);
  std::vector<std::unique_ptr<RequestStream>> streams;
  for (size_t i = 0; i < lengths.size(); ++i) {
    streams.push_back(std::make_unique<RequestStream>());
    GenerationRequest r = Greedy(Prompt(lengths[i], uint32_t(i)), kNew);
    r.on_event = streams.back()->Callback();
    ASSERT_TRUE(engine.Submit(std::move(r)).ok());
    // A late arrival joins a batch already decoding.
    if (i == 2) {
      for (int s = 0; s < 3; ++s) engine.Step();
    }
  }
  engine.RunUntilIdle();
  EXPECT_GT(engine.stats().steps, 5);
  for (size_t i = 0; i < lengths.size(); ++i) {
    auto batched = streams[i]->Collect();
    auto solo = RunAlone(Greedy(Prompt(lengths[i], uint32_t(i)), kNew));
    ASSERT_EQ(batched.finish, FinishReason::kLength);
    ASSERT_EQ(batched.tokens, solo.tokens) << "prompt length " << lengths[i];
    ASSERT_EQ(batched.logits.size(), size_t(kNew));
    for (size_t k = 0; k < batched.logits.size(); ++k) {
      EXPECT_TRUE(BitIdentical(batched.logits[k], solo.logits[k]))
          << "prompt length " << lengths[i] << ", token " << k;
    }
    EXPECT_EQ(batched.usage.prompt_tokens, int64_t(lengths[i]));
    EXPECT_EQ(batched.usage.completion_tokens, kNew);
  }
}

TEST(EngineTest, BatchedChunkedGenerationMatchesSoloBitForBit) { ExpectBatchMatchesSolo(16, 48); }
TEST(EngineTest, BatchedGenerationWithOddChunksMatchesSolo) { ExpectBatchMatchesSolo(5, 1000); }

TEST(EngineTest, SeededSamplingIsTheSameAloneAndInABatch) {
  auto make = [](uint32_t i) {
    GenerationRequest r = Greedy(Prompt(20 + i * 10, i), 12);
    r.sampling.temperature = 1.0;
    r.sampling.seed = 100 + i;
    return r;
  };
  Engine engine(TinyModel(), nullptr, {});
  std::vector<std::unique_ptr<RequestStream>> streams;
  for (uint32_t i = 0; i < 3; ++i) {
    streams.push_back(std::make_unique<RequestStream>());
    GenerationRequest r = make(i);
    r.on_event = streams.back()->Callback();
    ASSERT_TRUE(engine.Submit(std::move(r)).ok());
  }
  engine.RunUntilIdle();
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(streams[i]->Collect().tokens, RunAlone(make(i)).tokens);
  }
}

TEST(EngineTest, ThreadedEngineServesConcurrentClients) {
  Engine engine(TinyModel(), nullptr, {});
  engine.Start();
  std::vector<RequestStream::Collected> results(4);
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&, i] {
      RequestStream stream;
      GenerationRequest r = Greedy(Prompt(10 + 5 * size_t(i), uint32_t(i)), 8);
      r.on_event = stream.Callback();
      ASSERT_TRUE(engine.Submit(std::move(r)).ok());
      results[size_t(i)] = stream.Collect();
    });
  }
  for (auto& t : clients) t.join();
  engine.Stop();
  for (int i = 0; i < 4; ++i) {
    auto solo = RunAlone(Greedy(Prompt(10 + 5 * size_t(i), uint32_t(i)), 8));
    EXPECT_EQ(results[size_t(i)].tokens, solo.tokens);
  }
}

TEST(EngineTest, CancelFreesTheSequenceAtTheNextStep) {
  Engine engine(TinyModel(), nullptr, {});
  RequestStream stream;
  GenerationRequest r = Greedy(Prompt(10, 1), 1000);
  r.on_event = stream.Callback();
  auto id = engine.Submit(std::move(r));
  ASSERT_TRUE(id.ok());
  for (int i = 0; i < 4; ++i) engine.Step();
  EXPECT_EQ(engine.stats().running, 1);
  EXPECT_GT(engine.stats().reserved_bytes, 0);
  engine.Cancel(id.value());
  EXPECT_FALSE(engine.Step());  // nothing left to run
  auto out = stream.Collect();
  EXPECT_EQ(out.finish, FinishReason::kCancelled);
  EXPECT_EQ(out.tokens.size(), 4u);
  EXPECT_EQ(out.usage.completion_tokens, 4);
  EXPECT_EQ(engine.stats().running, 0);
  EXPECT_EQ(engine.stats().reserved_bytes, 0);
}

TEST(EngineTest, CancelOfAWaitingRequestAndShutdownCancelTheRest) {
  EngineOptions options;
  options.max_running = 1;
  auto engine = std::make_unique<Engine>(TinyModel(), nullptr, options);
  RequestStream a, b, c;
  GenerationRequest ra = Greedy(Prompt(5, 1), 100), rb = Greedy(Prompt(5, 2), 100),
                    rc = Greedy(Prompt(5, 3), 100);
  ra.on_event = a.Callback();
  rb.on_event = b.Callback();
  rc.on_event = c.Callback();
  ASSERT_TRUE(engine->Submit(std::move(ra)).ok());
  auto idb = engine->Submit(std::move(rb));
  ASSERT_TRUE(engine->Submit(std::move(rc)).ok());
  engine->Step();
  EXPECT_EQ(engine->stats().waiting, 2);
  engine->Cancel(idb.value());
  engine->Step();
  EXPECT_EQ(b.Collect().finish, FinishReason::kCancelled);
  EXPECT_EQ(engine->stats().waiting, 1);
  engine.reset();  // unfinished requests end as cancelled
  EXPECT_EQ(a.Collect().finish, FinishReason::kCancelled);
  EXPECT_EQ(c.Collect().finish, FinishReason::kCancelled);
}

TEST(EngineTest, PromptOverTheContextLimitIsRefusedAndGenerationStopsAtIt) {
  EngineOptions options;
  options.context_length = 64;
  Engine engine(TinyModel(), nullptr, options);
  auto refused = engine.Submit(Greedy(Prompt(64, 1), 4));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("context limit of 64"), std::string::npos) << refused.error();
  RequestStream stream;
  GenerationRequest r = Greedy(Prompt(60, 1), 100);
  r.on_event = stream.Callback();
  ASSERT_TRUE(engine.Submit(std::move(r)).ok());
  engine.RunUntilIdle();
  auto out = stream.Collect();
  EXPECT_EQ(out.finish, FinishReason::kLength);
  EXPECT_EQ(out.tokens.size(), 4u);
  // The default limit is the model's max_position_embeddings.
  Engine plain(TinyModel(), nullptr, {});
  EXPECT_EQ(plain.context_length(), TinyModel().config().max_position_embeddings);
}

TEST(EngineTest, PrefillProgressIsReportedPerChunk) {
  EngineOptions options;
  options.scheduler.prefill_chunk = 64;
  Engine engine(TinyModel(), nullptr, options);
  GenerationRequest r = Greedy(Prompt(300, 2), 2);
  std::vector<std::pair<int64_t, int64_t>> seen;
  r.on_prefill_progress = [&](int64_t done, int64_t total) { seen.push_back({done, total}); };
  ASSERT_TRUE(engine.Submit(std::move(r)).ok());
  engine.RunUntilIdle();
  ASSERT_EQ(seen.size(), 5u);  // 64, 128, 192, 256, 300
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].first, std::min<int64_t>(300, 64 * int64_t(i + 1)));
    EXPECT_EQ(seen[i].second, 300);
  }
}

TEST(EngineTest, FullQueueSaysOverloaded) {
  EngineOptions options;
  options.max_running = 1;
  options.max_queue = 2;
  Engine engine(TinyModel(), nullptr, options);
  // Before any step the one batch slot is free: three are accepted (one for the slot, two
  // waiting), the fourth is over the queue.
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(engine.Submit(Greedy(Prompt(5, i), 40)).ok()) << i;
  auto fourth = engine.Submit(Greedy(Prompt(5, 4), 2));
  ASSERT_FALSE(fourth.ok());
  EXPECT_EQ(fourth.error(), "overloaded: 2 requests are already waiting; retry later");
  engine.Step();  // one runs, two wait: still full
  EXPECT_EQ(engine.stats().running, 1);
  EXPECT_EQ(engine.stats().waiting, 2);
  EXPECT_FALSE(engine.Submit(Greedy(Prompt(5, 4), 2)).ok());
  engine.RunUntilIdle();  // the queue drains, so it accepts again
  EXPECT_TRUE(engine.Submit(Greedy(Prompt(5, 4), 2)).ok());
}

TEST(EngineTest, FreeBatchSlotsDoNotCountAsQueue) {
  // A burst between two steps: max_queue 0 still admits as many as the batch has slots.
  EngineOptions options;
  options.max_running = 2;
  options.max_queue = 0;
  Engine engine(TinyModel(), nullptr, options);
  ASSERT_TRUE(engine.Submit(Greedy(Prompt(5, 1), 40)).ok());
  ASSERT_TRUE(engine.Submit(Greedy(Prompt(5, 2), 40)).ok());
  EXPECT_FALSE(engine.Submit(Greedy(Prompt(5, 3), 40)).ok());
  engine.Step();
  EXPECT_EQ(engine.stats().running, 2);
  EXPECT_EQ(engine.stats().waiting, 0);
  EXPECT_FALSE(engine.Submit(Greedy(Prompt(5, 3), 40)).ok());
  engine.RunUntilIdle();
  EXPECT_EQ(engine.stats().running, 0);
  EXPECT_TRUE(engine.Submit(Greedy(Prompt(5, 3), 2)).ok());
}

TEST(EngineTest, MemoryBudgetRefusesWhatCannotFitAndQueuesTheRest) {
  const ModelConfig& c = TinyModel().config();
  EngineOptions options;
  options.memory_budget_bytes = EstimateStateBytes(c, 300);
  Engine engine(TinyModel(), nullptr, options);
  auto too_big = engine.Submit(Greedy(Prompt(600, 1), 10));
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.error().find("memory budget"), std::string::npos) << too_big.error();
  // Two that fit only one at a time: the second waits, then runs.
  RequestStream a, b;
  GenerationRequest ra = Greedy(Prompt(250, 1), 10), rb = Greedy(Prompt(250, 2), 10);
  ra.on_event = a.Callback();
  rb.on_event = b.Callback();
  ASSERT_TRUE(engine.Submit(std::move(ra)).ok());
  ASSERT_TRUE(engine.Submit(std::move(rb)).ok());
  engine.Step();
  EXPECT_EQ(engine.stats().running, 1);
  EXPECT_EQ(engine.stats().waiting, 1);
  EXPECT_LE(engine.stats().reserved_bytes, options.memory_budget_bytes);
  engine.RunUntilIdle();
  EXPECT_EQ(a.Collect().finish, FinishReason::kLength);
  EXPECT_EQ(b.Collect().finish, FinishReason::kLength);
}

TEST(EngineTest, StateByteEstimateMatchesTheState) {
  const Model& model = TinyModel();
  auto state = model.NewState(false);
  EXPECT_EQ(EstimateStateBytes(model.config(), 0), state->bytes());
  std::vector<float> logits;
  std::vector<ForwardSegment> segs(1);
  segs[0].state = state.get();
  segs[0].tokens = Prompt(300, 4);
  segs[0].logits = &logits;
  model.Forward(segs, {});
  EXPECT_EQ(EstimateStateBytes(model.config(), 300), state->bytes());
}

TEST(EngineTest, StopTokenIdsAndEosEndGeneration) {
  auto free_run = RunAlone(Greedy(Prompt(12, 9), 6));
  ASSERT_EQ(free_run.tokens.size(), 6u);
  GenerationRequest r = Greedy(Prompt(12, 9), 6);
  r.stop_token_ids = {free_run.tokens[2]};
  auto stopped = RunAlone(r);
  EXPECT_EQ(stopped.finish, FinishReason::kStop);
  // Ends at the first occurrence of the stop id.
  size_t first = 0;
  while (free_run.tokens[first] != free_run.tokens[2]) ++first;
  EXPECT_EQ(stopped.tokens.size(), first + 1);
  // EOS stops unless ignore_eos: force it with a logit bias.
  GenerationRequest e = Greedy(Prompt(12, 9), 6);
  e.ignore_eos = false;
  e.sampling.logit_bias = {{int32_t(TinyModel().config().eos_token_id), 1000.0f}};
  auto eos = RunAlone(e);
  EXPECT_EQ(eos.finish, FinishReason::kStop);
  EXPECT_EQ(eos.tokens.size(), 1u);
}

TEST(EngineTest, InvalidRequestsAreRefusedWithReasons) {
  Engine engine(TinyModel(), nullptr, {});
  EXPECT_FALSE(engine.Submit(Greedy({}, 4)).ok());
  EXPECT_FALSE(engine.Submit(Greedy({5, 99999}, 4)).ok());
  EXPECT_FALSE(engine.Submit(Greedy({5}, 0)).ok());
  GenerationRequest r = Greedy({5}, 4);
  r.stop = {"x"};
  auto no_tok = engine.Submit(r);
  ASSERT_FALSE(no_tok.ok());
  EXPECT_NE(no_tok.error().find("tokenizer"), std::string::npos);
  r = Greedy({5}, 4);
  r.sampling.top_p = 2;
  EXPECT_FALSE(engine.Submit(r).ok());
}

}  // namespace
}  // namespace dsv4

namespace dsv4 {
namespace {

const tokenizer::Tokenizer& TinyTokenizer() {
  static tokenizer::Tokenizer tok = [] {
    auto t = tokenizer::Tokenizer::FromFile(testing::WriteTinyTokenizer(
        std::filesystem::temp_directory_path() / "dsv4_engine_test_tokenizer.json"));
    if (!t.ok()) throw Error(t.error());
    return std::move(t.value());
  }();
  return tok;
}

// Greedy generation restricted to lowercase ASCII letters (ids 2 + 'a'..'z').
GenerationRequest Letters(int64_t n) {
  GenerationRequest r = testing::Greedy(testing::Prompt(9, 3), n);
  for (int32_t id = 0; id < int32_t(TinyModel().config().vocab_size); ++id) {
    if (id < 2 + 'a' || id > 2 + 'z') r.sampling.logit_bias[id] = -1000.0f;
  }
  return r;
}

TEST(EngineTextTest, TextStreamsAndStopStringsCutTheOutput) {
  Engine engine(TinyModel(), &TinyTokenizer(), {});
  RequestStream free_stream;
  GenerationRequest r = Letters(16);
  r.on_event = free_stream.Callback();
  ASSERT_TRUE(engine.Submit(std::move(r)).ok());
  engine.RunUntilIdle();
  auto free_run = free_stream.Collect();
  ASSERT_EQ(free_run.text.size(), 16u);
  EXPECT_EQ(free_run.text, TinyTokenizer().DecodeText(free_run.tokens));

  const std::string stop = free_run.text.substr(6, 3);
  const size_t at = free_run.text.find(stop);
  RequestStream stopped_stream;
  GenerationRequest s = Letters(16);
  s.stop = {stop, "never-there"};
  s.on_event = stopped_stream.Callback();
  ASSERT_TRUE(engine.Submit(std::move(s)).ok());
  engine.RunUntilIdle();
  auto stopped = stopped_stream.Collect();
  EXPECT_EQ(stopped.finish, FinishReason::kStop);
  EXPECT_EQ(stopped.text, free_run.text.substr(0, at));
  EXPECT_EQ(stopped.tokens.size(), at + 3);  // generation ends with the stop string's last token
}

}  // namespace
}  // namespace dsv4
