#include "model/forward/eval.h"

#include <algorithm>
#include <string>

namespace dsv4 {
namespace {

// Prefills tokens[0..n) in chunks, appending logits (last or all rows) and, if
// `hidden` is given, the final HC state of every position.
void Prefill(const Model& model, SequenceState* state, const std::vector<int32_t>& tokens,
             size_t n, const EvalOptions& options, std::vector<float>* logits,
             std::vector<float>* hidden) {
  const size_t chunk = options.chunk > 0 ? size_t(options.chunk) : n;
  for (size_t begin = 0; begin < n; begin += chunk) {
    const size_t end = std::min(n, begin + chunk);
    std::vector<float> rows, states;
    std::vector<ForwardSegment> segs(1);
    segs[0].state = state;
    segs[0].tokens.assign(tokens.begin() + long(begin), tokens.begin() + long(end));
    segs[0].all_logits = options.all_positions;
    segs[0].logits = (options.all_positions || end == n) ? &rows : nullptr;
    segs[0].hidden = hidden ? &states : nullptr;
    model.Forward(segs, options.forward);
    logits->insert(logits->end(), rows.begin(), rows.end());
    if (hidden) hidden->insert(hidden->end(), states.begin(), states.end());
  }
}

}  // namespace

std::vector<float> EvalLogits(const Model& model, const std::vector<int32_t>& tokens,
                              const EvalOptions& options) {
  Require(!tokens.empty(), "no tokens given");
  const int64_t prefill = options.prefill > 0 ? options.prefill : int64_t(tokens.size());
  Require(prefill <= int64_t(tokens.size()),
          "prefill of " + std::to_string(prefill) + " tokens exceeds the " +
              std::to_string(tokens.size()) + " tokens given");
  auto state = model.NewState(false, KvStorageFor(options.forward.act_quant));
  std::vector<float> logits;
  Prefill(model, state.get(), tokens, size_t(prefill), options, &logits, nullptr);
  for (size_t i = size_t(prefill); i < tokens.size(); ++i) {
    std::vector<float> row;
    std::vector<ForwardSegment> segs(1);
    segs[0].state = state.get();
    segs[0].tokens = {tokens[i]};
    segs[0].logits = &row;
    model.Forward(segs, options.forward);
    logits.insert(logits.end(), row.begin(), row.end());
  }
  return logits;
}

std::vector<float> EvalMtpLogits(const Model& model, const std::vector<int32_t>& tokens,
                                 const EvalOptions& options, std::vector<float>* trunk_logits) {
  Require(model.has_mtp(), "this checkpoint has no MTP layer");
  Require(tokens.size() >= 2, "the MTP evaluation needs at least two tokens");
  const size_t n = tokens.size() - 1;
  auto state = model.NewState(true, KvStorageFor(options.forward.act_quant));
  std::vector<float> logits, hidden;
  Prefill(model, state.get(), tokens, n, options, &logits, &hidden);
  if (trunk_logits) *trunk_logits = std::move(logits);
  std::vector<MtpSegment> segs(1);
  std::vector<float> mtp_logits;
  segs[0].state = state.get();
  segs[0].hidden = std::move(hidden);
  segs[0].next_tokens.assign(tokens.begin() + 1, tokens.end());
  segs[0].logits = &mtp_logits;
  model.ForwardMtp(segs, options.forward);
  return mtp_logits;
}

}  // namespace dsv4
