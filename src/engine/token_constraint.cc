#include "engine/token_constraint.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace dsv4 {

SampleResult SampleConstrained(Sampler& sampler, std::span<const float> logits,
                               const TokenConstraint& constraint) {
  SampleResult r = sampler.Sample(logits);
  if (constraint.Allows(r.token)) return r;
  constexpr float kMasked = -std::numeric_limits<float>::infinity();
  std::vector<float> masked(logits.begin(), logits.end());
  for (int tries = 0; tries < 16; ++tries) {
    masked[size_t(r.token)] = kMasked;
    r = sampler.Sample(masked);
    if (constraint.Allows(r.token)) return r;
  }
  int32_t best = -1;
  for (size_t t = 0; t < masked.size(); ++t) {
    if (!constraint.Allows(int32_t(t))) {
      masked[t] = kMasked;
    } else if (best < 0 || logits[t] > logits[size_t(best)]) {
      best = int32_t(t);
    }
  }
  r = sampler.Sample(masked);
  // Every allowed token may carry (almost) no probability after truncation; then the
  // most likely allowed one.
  if (!constraint.Allows(r.token) && best >= 0) r.token = best;
  return r;
}

}  // namespace dsv4
