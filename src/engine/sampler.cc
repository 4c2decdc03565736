#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace dsv4 {

Status ValidateSamplingParams(const SamplingParams& p, int64_t vocab_size) {
  if (!(p.temperature >= 0.0) || !std::isfinite(p.temperature)) {
    return Status::Fail("temperature must be a finite number >= 0");
  }
  if (!(p.top_p > 0.0 && p.top_p <= 1.0)) return Status::Fail("top_p must be in (0, 1]");
  if (p.top_k < 0) return Status::Fail("top_k must be >= 0");
  if (!(p.min_p >= 0.0 && p.min_p <= 1.0)) return Status::Fail("min_p must be in [0, 1]");
  if (!(p.repetition_penalty > 0.0) || !std::isfinite(p.repetition_penalty)) {
    return Status::Fail("repetition_penalty must be > 0");
  }
  if (!std::isfinite(p.presence_penalty) || !std::isfinite(p.frequency_penalty)) {
    return Status::Fail("penalties must be finite");
  }
  if (p.top_logprobs < 0 || p.top_logprobs > 20) {
    return Status::Fail("top_logprobs must be in [0, 20]");
  }
  for (const auto& [token, bias] : p.logit_bias) {
    if (token < 0 || token >= vocab_size) {
      return Status::Fail("logit_bias token " + std::to_string(token) +
                          " is outside the vocabulary");
    }
    if (std::isnan(bias)) return Status::Fail("logit_bias value is NaN");
  }
  return Status::Ok();
}

Sampler::Sampler(const SamplingParams& params, std::span<const int32_t> prompt)
    : params_(params), rng_(params.seed ? *params.seed : std::random_device{}()) {
  if (params_.repetition_penalty != 1.0) {
    for (int32_t t : prompt) {
      if (t < 0) continue;
      if (size_t(t) >= seen_.size()) seen_.resize(size_t(t) + 1, 0);
      seen_[size_t(t)] = 1;
    }
  }
}

void Sampler::Accept(int32_t token) {
  // Counts only where a penalty reads them. Sized to the vocabulary once (scratch_ has
  // its size after the first Sample), so a decode step does not allocate here.
  if (token >= 0 && (params_.presence_penalty != 0.0 || params_.frequency_penalty != 0.0)) {
    if (size_t(token) >= output_counts_.size()) {
      output_counts_.resize(std::max(size_t(token) + 1, scratch_.size()), 0);
    }
    if (output_counts_[size_t(token)]++ == 0) output_tokens_.push_back(token);
  }
  if (params_.repetition_penalty != 1.0 && token >= 0) {
    if (size_t(token) >= seen_.size()) seen_.resize(size_t(token) + 1, 0);
    seen_[size_t(token)] = 1;
  }
}

double Sampler::Uniform() { return double(rng_() >> 11) * 0x1.0p-53; }

void Sampler::Adjust(std::span<const float> logits) {
  const size_t V = logits.size();
  scratch_.assign(logits.begin(), logits.end());
  for (const auto& [token, bias] : params_.logit_bias) {
    if (size_t(token) < V) scratch_[size_t(token)] += double(bias);
  }
  const double rp = params_.repetition_penalty;
  if (rp != 1.0) {
    for (size_t t = 0; t < std::min(V, seen_.size()); ++t) {
      if (!seen_[t]) continue;
      scratch_[t] = scratch_[t] > 0 ? scratch_[t] / rp : scratch_[t] * rp;
    }
  }
  if (params_.presence_penalty != 0.0 || params_.frequency_penalty != 0.0) {
    for (int32_t token : output_tokens_) {
      if (size_t(token) >= V) continue;
      const int64_t count = output_counts_[size_t(token)];
      scratch_[size_t(token)] -= params_.presence_penalty + params_.frequency_penalty * double(count);
    }
  }
}

SampleResult Sampler::Sample(std::span<const float> logits) {
  const size_t V = logits.size();
  Adjust(logits);
  SampleResult result;

  // Greedy: argmax, lowest id on ties.
  if (params_.temperature == 0.0) {
    result.token = int32_t(std::max_element(scratch_.begin(), scratch_.end()) - scratch_.begin());
  } else {
    // z = adjusted / T; weights exp(z - max) over the kept tokens.
    const double inv_t = 1.0 / params_.temperature;
    double zmax = -std::numeric_limits<double>::infinity();
    for (double x : scratch_) zmax = std::max(zmax, x * inv_t);
    std::vector<double>& w = weights_;
    w.resize(V);
    for (size_t i = 0; i < V; ++i) w[i] = std::exp(scratch_[i] * inv_t - zmax);

    // Candidates, most likely first when a truncation needs the order.
    order_.resize(V);
    for (size_t i = 0; i < V; ++i) order_[i] = int32_t(i);
    auto more_likely = [&](int32_t a, int32_t b) {
      return w[size_t(a)] != w[size_t(b)] ? w[size_t(a)] > w[size_t(b)] : a < b;
    };
    size_t kept = V;
    if (params_.top_k > 0 && size_t(params_.top_k) < V) {
      kept = size_t(params_.top_k);
      std::nth_element(order_.begin(), order_.begin() + kept, order_.end(), more_likely);
      order_.resize(kept);
    }
    if (params_.top_p < 1.0) {
      double total = 0;
      for (size_t i = 0; i < kept; ++i) total += w[size_t(order_[i])];
      // Sort only a head of candidates when it already holds top_p of the mass.
      size_t head = std::min(kept, size_t(1024));
      std::nth_element(order_.begin(), order_.begin() + head, order_.begin() + kept, more_likely);
      std::sort(order_.begin(), order_.begin() + head, more_likely);
      double head_mass = 0;
      for (size_t i = 0; i < head; ++i) head_mass += w[size_t(order_[i])];
      if (head_mass < params_.top_p * total) {
        std::sort(order_.begin(), order_.begin() + kept, more_likely);
        head = kept;
      }
      double cum = 0;
      size_t n = 0;
      while (n < head) {
        cum += w[size_t(order_[n++])];
        if (cum >= params_.top_p * total) break;
      }
      kept = std::max<size_t>(n, 1);
    }
    order_.resize(kept);
    if (params_.min_p > 0.0) {
      double wmax = 0;
      for (int32_t t : order_) wmax = std::max(wmax, w[size_t(t)]);
      const double cut = params_.min_p * wmax;
      std::erase_if(order_, [&](int32_t t) { return w[size_t(t)] < cut; });
    }
    // Draw in id order, so the result does not depend on how the candidates were sorted.
    std::sort(order_.begin(), order_.end());
    double total = 0;
    for (int32_t t : order_) total += w[size_t(t)];
    const double target = Uniform() * total;
    double cum = 0;
    result.token = order_.back();
    for (int32_t t : order_) {
      cum += w[size_t(t)];
      if (target < cum) {
        result.token = t;
        break;
      }
    }
  }

  if (params_.logprobs || params_.top_logprobs > 0) {
    double m = *std::max_element(scratch_.begin(), scratch_.end());
    double sum = 0;
    for (double x : scratch_) sum += std::exp(x - m);
    const double log_z = m + std::log(sum);
    result.logprob = float(scratch_[size_t(result.token)] - log_z);
    const size_t n = std::min(V, size_t(params_.top_logprobs));
    if (n > 0) {
      order_.resize(V);
      for (size_t i = 0; i < V; ++i) order_[i] = int32_t(i);
      auto higher = [&](int32_t a, int32_t b) {
        return scratch_[size_t(a)] != scratch_[size_t(b)] ? scratch_[size_t(a)] > scratch_[size_t(b)]
                                                          : a < b;
      };
      std::partial_sort(order_.begin(), order_.begin() + n, order_.end(), higher);
      for (size_t i = 0; i < n; ++i) {
        result.top_logprobs.push_back({order_[i], float(scratch_[size_t(order_[i])] - log_z)});
      }
    }
  }
  return result;
}

}  // namespace dsv4
