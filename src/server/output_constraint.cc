#include "server/output_constraint.h"

namespace dsv4::server {
namespace {

constexpr std::string_view kThinkClose = "</think>";

}  // namespace

bool OutputConstraint::State::Feed(std::string_view bytes) {
  for (char c : bytes) {
    if (reasoning) {
      // Out of reasoning budget: only the closing tag may come.
      if (reasoning_left == 0 && c != kThinkClose[close_n]) return false;
      close_n = c == kThinkClose[close_n] ? close_n + 1 : (c == kThinkClose[0] ? 1 : 0);
      if (close_n == kThinkClose.size()) reasoning = false;
      continue;
    }
    if (!(json ? json_object.Feed(c) : calls.Feed(c))) return false;
  }
  return true;
}

OutputConstraint::OutputConstraint(const tokenizer::Tokenizer& tokenizer, State state)
    : tokenizer_(tokenizer), state_(std::move(state)) {
  dsml_token_ = tokenizer.TokenId("\xEF\xBD\x9C" "DSML" "\xEF\xBD\x9C").value_or(-1);
  eos_ = tokenizer.TokenId("<｜end▁of▁sentence｜>").value_or(-1);
}

std::shared_ptr<OutputConstraint> OutputConstraint::JsonObject(
    const tokenizer::Tokenizer& tokenizer, bool starts_in_reasoning, int64_t reasoning_budget) {
  State s;
  s.reasoning = starts_in_reasoning;
  s.reasoning_left = reasoning_budget;
  s.json = true;
  return std::shared_ptr<OutputConstraint>(new OutputConstraint(tokenizer, std::move(s)));
}

std::shared_ptr<OutputConstraint> OutputConstraint::ToolCalls(
    const tokenizer::Tokenizer& tokenizer, bool starts_in_reasoning,
    std::vector<DsmlTool> tools, bool multiple, int64_t reasoning_budget) {
  State s;
  s.reasoning = starts_in_reasoning;
  s.reasoning_left = reasoning_budget;
  s.calls = DsmlCallGrammar(std::make_shared<const std::vector<DsmlTool>>(std::move(tools)),
                            multiple);
  return std::shared_ptr<OutputConstraint>(new OutputConstraint(tokenizer, std::move(s)));
}

bool OutputConstraint::TokenAllowed(int32_t token, State* state) const {
  if (!tokenizer_.IsKnown(token)) return false;
  if (tokenizer_.IsAddedToken(token)) {
    // While reasoning anything but the end of the turn; in the answer only the DSML
    // marker (a tag's middle).
    const bool ok = state->reasoning ? token != eos_
                                     : token == dsml_token_;
    if (!ok) return false;
  }
  return state->Feed(tokenizer_.TokenBytes(token));
}

bool OutputConstraint::Allows(int32_t token) const {
  State copy = state_;
  return TokenAllowed(token, &copy);
}

void OutputConstraint::Accept(int32_t token) {
  const bool was_reasoning = state_.reasoning;
  TokenAllowed(token, &state_);
  if (was_reasoning && state_.reasoning && state_.reasoning_left > 0) --state_.reasoning_left;
}

bool OutputConstraint::Complete() const { return state_.Complete(); }

bool OutputConstraint::AcceptsText(std::string_view text) const {
  State copy = state_;
  return copy.Feed(text);
}

bool OutputConstraint::FeedText(std::string_view text) { return state_.Feed(text); }

}  // namespace dsv4::server
