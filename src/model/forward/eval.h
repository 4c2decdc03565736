// The evaluation protocol behind `dsv4 eval` and the golden tests: prefill, then
// token-by-token decode, collecting logits rows; or the MTP head over a prefill.
#pragma once

#include <cstdint>
#include <vector>

#include "model/forward/model.h"

namespace dsv4 {

struct EvalOptions {
  int64_t prefill = 0;        // tokens prefilled before decoding the rest one at a time
  int64_t chunk = 0;          // prefill chunk size (0 = the whole prefill in one step)
  bool all_positions = false; // a row for every prefill position, else only the last
  ForwardOptions forward{.act_quant = true, .reference_prefill_layout = true};
};

// Rows of vocab_size logits: the prefill's last row (or all its rows), then one row
// per decoded token. Throws Error on bad input (ids, lengths).
std::vector<float> EvalLogits(const Model& model, const std::vector<int32_t>& tokens,
                              const EvalOptions& options);

// tokens t0..tn: prefills t0..t(n-1) (in chunks of options.chunk) and returns the MTP
// head's logits for every pair (h_p, t_{p+1}), p = 0..n-1 (n rows). If trunk_logits is
// given it receives the prefill's logits (last row or all rows).
std::vector<float> EvalMtpLogits(const Model& model, const std::vector<int32_t>& tokens,
                                 const EvalOptions& options,
                                 std::vector<float>* trunk_logits = nullptr);

}  // namespace dsv4
