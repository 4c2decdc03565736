// Constrained decoding hook: a per-request rule for which tokens may come next (the API
// server's tool_choice and response_format enforcement). The engine asks it before each
// sampled token and finishes the request (as a stop) once it says the output is complete.
//
// Threading: used only by the engine thread while the request runs; the submitting thread
// may read it again after the request's final event.
#pragma once

#include <cstdint>
#include <span>

#include "engine/sampler.h"

namespace dsv4 {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // May `token` be generated next? At least one token must always be allowed.
  virtual bool Allows(int32_t token) const = 0;
  // `token` was generated (it was allowed).
  virtual void Accept(int32_t token) = 0;
  // The output is complete: the engine ends the request here (finish reason stop).
  virtual bool Complete() const = 0;
};

// Samples from `logits` restricted to the tokens `constraint` allows: the distribution is
// the sampler's, conditioned on being allowed. Rejection first (a few draws with refused
// tokens masked; cheap when the model mostly agrees with the constraint), then one pass
// over the whole vocabulary. Logprobs are those of the masked distribution.
SampleResult SampleConstrained(Sampler& sampler, std::span<const float> logits,
                               const TokenConstraint& constraint);

}  // namespace dsv4
