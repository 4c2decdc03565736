// Per-request sampling options (OpenAI / DeepSeek names and defaults). Plain data: the
// API adapters fill it, the engine's Sampler applies it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace dsv4 {

struct SamplingParams {
  // DeepSeek recommends temperature 1, top_p 1 for V4; 0 = greedy (argmax, lowest id on ties).
  double temperature = 1.0;
  double top_p = 1.0;   // nucleus: smallest set of tokens whose mass reaches top_p
  int64_t top_k = 0;    // keep the k most likely tokens; 0 = off
  double min_p = 0.0;   // drop tokens with p < min_p * p_max; 0 = off
  // OpenAI penalties over the generated tokens: logit -= presence * [count > 0] +
  // frequency * count.
  double presence_penalty = 0.0;
  double frequency_penalty = 0.0;
  // CTRL / Hugging Face penalty over prompt and generated tokens: a seen token's logit is
  // divided by it when positive, multiplied when negative. 1 = off.
  double repetition_penalty = 1.0;
  std::map<int32_t, float> logit_bias;  // token id -> added to its logit
  // Same seed + same request = same output (the RNG is per request, so the rest of the
  // batch never matters). No seed = a random one.
  std::optional<uint64_t> seed;
  bool logprobs = false;     // report the chosen token's log-probability
  int64_t top_logprobs = 0;  // and the n most likely alternatives (0..20)
};

// Checks ranges (temperature >= 0, 0 < top_p <= 1, ...) against a vocabulary size.
Status ValidateSamplingParams(const SamplingParams& params, int64_t vocab_size);

}  // namespace dsv4
