#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

namespace dsv4 {
namespace {

// Softmax of logits / T.
std::vector<double> Softmax(const std::vector<float>& logits, double t) {
  double m = -1e300;
  for (float x : logits) m = std::max(m, double(x) / t);
  std::vector<double> p(logits.size());
  double s = 0;
  for (size_t i = 0; i < p.size(); ++i) s += p[i] = std::exp(double(logits[i]) / t - m);
  for (double& x : p) x /= s;
  return p;
}

std::vector<int64_t> Draw(const SamplingParams& params, const std::vector<float>& logits,
                          int n) {
  Sampler sampler(params, {});
  std::vector<int64_t> counts(logits.size(), 0);
  for (int i = 0; i < n; ++i) ++counts[size_t(sampler.Sample(logits).token)];
  return counts;
}

// Pearson's chi-square of observed counts against expected probabilities (cells with
// p = 0 must have no draws).
double ChiSquare(const std::vector<int64_t>& counts, const std::vector<double>& p, int n) {
  double chi = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " has probability 0";
      continue;
    }
    const double e = p[i] * n;
    chi += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi;
}

const std::vector<float> kLogits = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 0.0f, 2.5f, -2.0f};
// 99.9% quantile of chi-square with 7 degrees of freedom; seeds fixed, so deterministic.
constexpr double kChi7 = 24.32;

TEST(SamplerTest, DrawsFollowTheSoftmaxAtSeveralTemperatures) {
  for (double t : {1.0, 0.5, 2.0}) {
    SamplingParams params;
    params.temperature = t;
    params.seed = 1234;
    const int n = 100000;
    auto counts = Draw(params, kLogits, n);
    EXPECT_LT(ChiSquare(counts, Softmax(kLogits, t), n), kChi7) << "temperature " << t;
  }
}

TEST(SamplerTest, TemperatureZeroIsArgmax) {
  SamplingParams params;
  params.temperature = 0;
  Sampler sampler(params, {});
  for (int i = 0; i < 10; ++i) EXPECT_EQ(sampler.Sample(kLogits).token, 4);
  // Ties go to the lowest id.
  std::vector<float> tie = {0, 5, 5, 1};
  EXPECT_EQ(sampler.Sample(tie).token, 1);
}

TEST(SamplerTest, SameSeedSameTokensDifferentSeedDifferentTokens) {
  SamplingParams params;
  params.seed = 42;
  auto run = [&](uint64_t seed) {
    params.seed = seed;
    Sampler s(params, {});
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.Sample(kLogits).token);
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(SamplerTest, TopKKeepsTheKMostLikelyWithRenormalisedMass) {
  SamplingParams params;
  params.top_k = 3;  // tokens 4 (3.0), 6 (2.5), 1 (2.0)
  params.seed = 7;
  const int n = 60000;
  auto counts = Draw(params, kLogits, n);
  std::vector<double> p = Softmax(kLogits, 1.0);
  double kept = p[4] + p[6] + p[1];
  for (size_t i = 0; i < p.size(); ++i) p[i] = (i == 4 || i == 6 || i == 1) ? p[i] / kept : 0;
  EXPECT_LT(ChiSquare(counts, p, n), 13.82);  // df 2, 99.9%
}

TEST(SamplerTest, TopPKeepsTheSmallestNucleus) {
  std::vector<double> p = Softmax(kLogits, 1.0);
  // Sorted: 4 (0.43), 6 (0.26), 1 (0.16), 0 (0.06) ...; top_p 0.8 keeps 4, 6, 1.
  ASSERT_LT(p[4] + p[6], 0.8);
  ASSERT_GE(p[4] + p[6] + p[1], 0.8);
  SamplingParams params;
  params.top_p = 0.8;
  params.seed = 9;
  const int n = 60000;
  auto counts = Draw(params, kLogits, n);
  double kept = p[4] + p[6] + p[1];
  for (size_t i = 0; i < p.size(); ++i) p[i] = (i == 4 || i == 6 || i == 1) ? p[i] / kept : 0;
  EXPECT_LT(ChiSquare(counts, p, n), 13.82);
  // A tiny top_p keeps the single most likely token.
  params.top_p = 1e-6;
  counts = Draw(params, kLogits, 100);
  EXPECT_EQ(counts[4], 100);
}

TEST(SamplerTest, TopPOverALargeVocabularyUsesTheFullOrderWhenNeeded) {
  // Flat logits over 3000 tokens: the nucleus is larger than the 1024-token fast path.
  std::vector<float> flat(3000, 0.0f);
  SamplingParams params;
  params.top_p = 0.5;
  params.seed = 3;
  auto counts = Draw(params, flat, 6000);
  // All equal: the nucleus is the lowest 1500 ids (ties broken by id).
  for (size_t i = 1500; i < counts.size(); ++i) ASSERT_EQ(counts[i], 0) << i;
  int64_t used = 0;
  for (size_t i = 0; i < 1500; ++i) used += counts[i] > 0;
  EXPECT_GT(used, 1400);  // expected ~1472
}

TEST(SamplerTest, MinPDropsTokensBelowAFractionOfTheMax) {
  SamplingParams params;
  params.min_p = 0.3;  // keeps p >= 0.3 * p(4): exp(x - 3) >= 0.3 -> x >= 1.796: 4, 6, 1
  params.seed = 11;
  auto counts = Draw(params, kLogits, 20000);
  for (size_t i = 0; i < counts.size(); ++i) {
    if (i == 4 || i == 6 || i == 1) {
      EXPECT_GT(counts[i], 0) << i;
    } else {
      EXPECT_EQ(counts[i], 0) << i;
    }
  }
}

TEST(SamplerTest, LogitBiasCanForceOrForbidAToken) {
  SamplingParams params;
  params.temperature = 0;
  params.logit_bias = {{7, 100.0f}};
  Sampler s(params, {});
  EXPECT_EQ(s.Sample(kLogits).token, 7);
  params.logit_bias = {{4, -100.0f}};
  Sampler s2(params, {});
  EXPECT_EQ(s2.Sample(kLogits).token, 6);
}

TEST(SamplerTest, PresenceAndFrequencyPenaltiesLowerGeneratedTokens) {
  SamplingParams params;
  params.temperature = 0;
  params.presence_penalty = 0.4;  // 3.0 - 0.4 = 2.6 still beats 2.5
  Sampler s(params, {});
  EXPECT_EQ(s.Sample(kLogits).token, 4);
  s.Accept(4);
  EXPECT_EQ(s.Sample(kLogits).token, 4);
  params.presence_penalty = 0.0;
  params.frequency_penalty = 0.3;  // one use: 2.7 > 2.5; two uses: 2.4 < 2.5
  Sampler f(params, {});
  f.Accept(4);
  EXPECT_EQ(f.Sample(kLogits).token, 4);
  f.Accept(4);
  EXPECT_EQ(f.Sample(kLogits).token, 6);
}

TEST(SamplerTest, RepetitionPenaltyCoversThePromptAndScalesBySign) {
  SamplingParams params;
  params.temperature = 0;
  params.repetition_penalty = 2.0;
  std::vector<int32_t> prompt = {4};
  Sampler s(params, prompt);  // 3.0 / 2 = 1.5 < 2.5
  EXPECT_EQ(s.Sample(kLogits).token, 6);
  params.logprobs = true;
  std::vector<float> neg = {-1.0f, -1.5f};
  std::vector<int32_t> prompt0 = {0};
  Sampler n(params, prompt0);  // -1.0 * 2 = -2.0 < -1.5
  EXPECT_EQ(n.Sample(neg).token, 1);
}

TEST(SamplerTest, LogprobsAreTheAdjustedLogSoftmaxIndependentOfTemperature) {
  std::vector<double> p = Softmax(kLogits, 1.0);
  for (double t : {0.0, 0.7}) {
    SamplingParams params;
    params.temperature = t;
    params.seed = 5;
    params.logprobs = true;
    params.top_logprobs = 3;
    Sampler s(params, {});
    SampleResult r = s.Sample(kLogits);
    EXPECT_NEAR(r.logprob, std::log(p[size_t(r.token)]), 1e-5);
    ASSERT_EQ(r.top_logprobs.size(), 3u);
    EXPECT_EQ(r.top_logprobs[0].token, 4);
    EXPECT_EQ(r.top_logprobs[1].token, 6);
    EXPECT_EQ(r.top_logprobs[2].token, 1);
    EXPECT_NEAR(r.top_logprobs[0].logprob, std::log(p[4]), 1e-5);
  }
}

TEST(SamplerTest, ValidationRejectsOutOfRangeOptions) {
  SamplingParams ok;
  EXPECT_TRUE(ValidateSamplingParams(ok, 8).ok());
  SamplingParams p = ok;
  p.temperature = -1;
  EXPECT_FALSE(ValidateSamplingParams(p, 8).ok());
  p = ok;
  p.top_p = 0;
  EXPECT_FALSE(ValidateSamplingParams(p, 8).ok());
  p = ok;
  p.top_logprobs = 21;
  EXPECT_FALSE(ValidateSamplingParams(p, 8).ok());
  p = ok;
  p.logit_bias = {{8, 1.0f}};
  EXPECT_FALSE(ValidateSamplingParams(p, 8).ok());
}

}  // namespace
}  // namespace dsv4
