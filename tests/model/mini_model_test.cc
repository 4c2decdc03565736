// The bundled model (models/dsv4-mini): its tokenizer round-trips and has the V4 chat
// markers as single tokens; its held-out perplexity computed by the C++ engine equals the
// PyTorch reference's and is far below the unigram baseline.
//
// Fixture tests/fixtures/mini/heldout.json (tools/train/make_mini_fixture.py; the command
// that made it is stored in the file): held-out tokens (documents never trained on), the
// reference's mean next-token NLL over them (tools/reference/dsv4_ref.py, act_quant on,
// one prefill) and the unigram NLL of the same targets under the training corpus' token
// frequencies. Precise mode reproduces the reference's arithmetic, so the NLL must agree
// to float rounding; the fast SIMD kernels sum in another fp32 order (a perturbation the
// golden tests bound), so there the mean NLL may move by a little.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/precision.h"
#include "model/forward/eval.h"
#include "model/forward/model.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/tokenizer.h"

namespace dsv4 {
namespace {

const std::string kRoot = DSV4_SOURCE_DIR;

struct Fixture {
  std::vector<int32_t> tokens, targets;
  double reference_nll = 0, unigram_nll = 0;
  std::string model;
};

Fixture LoadFixture() {
  std::ifstream in(kRoot + "/tests/fixtures/mini/heldout.json");
  EXPECT_TRUE(bool(in));
  nlohmann::json j = nlohmann::json::parse(in);
  Fixture f;
  f.tokens = j.at("tokens").get<std::vector<int32_t>>();
  f.targets = j.at("targets").get<std::vector<int32_t>>();
  f.reference_nll = j.at("reference_nll").get<double>();
  f.unigram_nll = j.at("unigram_nll").get<double>();
  f.model = j.at("model").get<std::string>();
  return f;
}

// Mean of -log softmax(row)[target] over all rows.
double MeanNll(const std::vector<float>& logits, const std::vector<int32_t>& targets, int64_t V) {
  double total = 0;
  for (size_t r = 0; r < targets.size(); ++r) {
    const float* row = &logits[r * size_t(V)];
    double mx = row[0];
    for (int64_t v = 1; v < V; ++v) mx = std::max(mx, double(row[v]));
    double sum = 0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(double(row[v]) - mx);
    total += mx + std::log(sum) - double(row[targets[r]]);
  }
  return total / double(targets.size());
}

double EngineNll(const Fixture& f, bool precise) {
  auto loaded = Model::Load(kRoot + "/" + f.model);
  if (!loaded.ok()) throw std::runtime_error(loaded.error());
  const Model& model = *loaded.value();
  EvalOptions options;
  options.prefill = int64_t(f.tokens.size());
  options.all_positions = true;
  kernels::SetPreciseMath(precise);
  std::vector<float> logits = EvalLogits(model, f.tokens, options);
  kernels::SetPreciseMath(false);
  const int64_t V = model.config().vocab_size;
  EXPECT_EQ(logits.size(), f.targets.size() * size_t(V));
  return MeanNll(logits, f.targets, V);
}

TEST(MiniTokenizer, RoundTripsAndKeepsChatMarkers) {
  const Fixture f = LoadFixture();
  auto tok = tokenizer::Tokenizer::FromFile(kRoot + "/" + f.model);
  ASSERT_TRUE(tok.ok()) << tok.error();
  // The held-out ids came from BPE-encoding real text: decoding and re-encoding them is
  // the identity, and the text survives encode -> decode byte for byte.
  const std::string text = tok->Decode(f.tokens);
  EXPECT_EQ(tok->Encode(text, true), f.tokens);
  const std::string mixed = "Hello, world! 12345 caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD\n\tx  y";
  EXPECT_EQ(tok->Decode(tok->Encode(mixed, true)), mixed);
  // Every marker the V4 chat format emits is one added token; BOS 0 and EOS 1 as in V4.
  for (std::string_view m : {tokenizer::v4::kBos, tokenizer::v4::kEos, tokenizer::v4::kUser,
                             tokenizer::v4::kAssistant, tokenizer::v4::kThinkOpen,
                             tokenizer::v4::kThinkClose, tokenizer::v4::kDsml,
                             tokenizer::v4::kReminder}) {
    std::vector<int32_t> ids = tok->Encode(m, true);
    ASSERT_EQ(ids.size(), 1u) << m;
    EXPECT_TRUE(tok->IsAddedToken(ids[0])) << m;
  }
  EXPECT_EQ(tok->Encode(tokenizer::v4::kBos, true), std::vector<int32_t>{0});
  EXPECT_EQ(tok->Encode(tokenizer::v4::kEos, true), std::vector<int32_t>{1});
  auto model = Model::Load(kRoot + "/" + f.model);
  ASSERT_TRUE(model.ok()) << model.error();
  EXPECT_EQ(tok->vocab_size(), model.value()->config().vocab_size);
}

TEST(MiniPerplexity, PreciseEqualsReference) {
  const Fixture f = LoadFixture();
  ASSERT_EQ(f.tokens.size(), f.targets.size());
  ASSERT_GE(f.tokens.size(), 100u);
  const double nll = EngineNll(f, /*precise=*/true);
  std::printf("held-out perplexity: engine (precise) %.4f, reference %.4f, unigram %.2f\n",
              std::exp(nll), std::exp(f.reference_nll), std::exp(f.unigram_nll));
  EXPECT_NEAR(nll, f.reference_nll, 1e-4 * f.reference_nll);
  // A trained model: far below the unigram baseline (perplexity at most half of it).
  EXPECT_LT(nll, f.unigram_nll - std::log(2.0));
}

TEST(MiniPerplexity, FastCloseToReference) {
  const Fixture f = LoadFixture();
  const double nll = EngineNll(f, /*precise=*/false);
  std::printf("held-out perplexity: engine (fast) %.4f, reference %.4f\n", std::exp(nll),
              std::exp(f.reference_nll));
  EXPECT_NEAR(nll, f.reference_nll, 0.02 * f.reference_nll);
}

// A prompt prefilled at once routes tokens to all 8 experts of a layer, which MoeForward
// runs one expert per thread (nested products inline); decoded one token at a time, the
// routed and shared experts run as two loops over slices of their rows. Fast mode, both
// ways: the logits must be bit-identical (same per-expert arithmetic, same sum order).
TEST(MiniPerplexity, ExpertsInParallelGiveTheSameLogitsAsOneTokenAtATime) {
  const Fixture f = LoadFixture();
  auto loaded = Model::Load(kRoot + "/" + f.model);
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  const Model& model = *loaded.value();
  const std::vector<int32_t> tokens(f.tokens.begin(), f.tokens.begin() + 96);
  EvalOptions whole;
  whole.prefill = int64_t(tokens.size());
  whole.all_positions = true;
  // The engine's key layout: the reference's prefill layout lists min(T, window) window
  // slots, a decode step the whole window, so with the 128-token window and 96 tokens the
  // compressed entries would fall into other 64-key softmax blocks than when decoding.
  whole.forward.reference_prefill_layout = false;
  const std::vector<float> a = EvalLogits(model, tokens, whole);
  EvalOptions decode = whole;
  decode.prefill = 1;
  const std::vector<float> b = EvalLogits(model, tokens, decode);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace dsv4
