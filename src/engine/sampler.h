// Token selection for one request: logit_bias, penalties, then temperature / top_k /
// top_p / min_p truncation and a draw from the per-request RNG (or argmax at
// temperature 0). Log-probabilities are those of the distribution after bias and
// penalties, before temperature and truncation (what the model "thinks", as vLLM's
// processed logprobs), so they do not change with temperature.
//
// Ownership/threading: one Sampler per request; used only by the engine thread.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "engine/sampling_params.h"

namespace dsv4 {

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.0f;
};

struct SampleResult {
  int32_t token = 0;
  float logprob = 0.0f;                    // set when params.logprobs
  std::vector<TokenLogprob> top_logprobs;  // most likely first, params.top_logprobs of them
};

class Sampler {
 public:
  // `prompt` seeds the repetition penalty's set of seen tokens.
  Sampler(const SamplingParams& params, std::span<const int32_t> prompt);

  // logits: [vocab]. Picks the next token; Accept() must follow with the token that is
  // actually appended (normally the result's).
  SampleResult Sample(std::span<const float> logits);
  // Records a generated token for the penalties.
  void Accept(int32_t token);

  const SamplingParams& params() const { return params_; }

 private:
  // logits -> bias and penalties applied, in scratch_ (double precision).
  void Adjust(std::span<const float> logits);
  // A uniform double in [0, 1) from the request's RNG (53 random bits).
  double Uniform();

  SamplingParams params_;
  std::mt19937_64 rng_;
  // Generated tokens, with presence / frequency penalties: how often each (by id) and
  // each distinct one once, in first-seen order. (A hash map allocated a node for every
  // new token, in the decode step's hot path.)
  std::vector<int64_t> output_counts_;
  std::vector<int32_t> output_tokens_;
  std::vector<uint8_t> seen_;                           // prompt or generated (repetition)
  std::vector<double> scratch_;
  std::vector<double> weights_;  // exp(z - max) per token (Sample; kept: 1 MB at V4's vocabulary)
  std::vector<int32_t> order_;
};

}  // namespace dsv4
