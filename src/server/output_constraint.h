// Enforced output shapes for a chat generation, as an engine TokenConstraint:
// response_format json_object (the answer is one JSON object, finished as soon as it
// closes) and tool_choice required / named (the answer is a DSML tool-call block, see
// DsmlCallGrammar). In thinking mode the reasoning before "</think>" is free (only EOS is
// refused there) for up to `reasoning_budget` tokens (-1 = no limit), after which it must
// close, so the enforced answer still fits the output budget; the shape applies from
// "</think>" on. Added tokens other than the DSML
// marker are refused in the answer, so control tokens cannot slip into a value.
//
// Threading: the engine thread uses it while the request runs (see TokenConstraint).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "engine/token_constraint.h"
#include "server/dsml_call_grammar.h"
#include "server/json_prefix.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::server {

class OutputConstraint : public TokenConstraint {
 public:
  // The answer must be a JSON object.
  static std::shared_ptr<OutputConstraint> JsonObject(const tokenizer::Tokenizer& tokenizer,
                                                      bool starts_in_reasoning,
                                                      int64_t reasoning_budget = -1);
  // The answer must be a tool-call block calling `tools` (one call unless `multiple`).
  static std::shared_ptr<OutputConstraint> ToolCalls(const tokenizer::Tokenizer& tokenizer,
                                                     bool starts_in_reasoning,
                                                     std::vector<DsmlTool> tools, bool multiple,
                                                     int64_t reasoning_budget = -1);

  bool Allows(int32_t token) const override;
  void Accept(int32_t token) override;
  bool Complete() const override;

  // Byte-level access (tests): feeds text as the model would produce it.
  bool AcceptsText(std::string_view text) const;
  bool FeedText(std::string_view text);

 private:
  struct State {
    bool reasoning = false;
    uint8_t close_n = 0;  // bytes of "</think>" matched while reasoning
    int64_t reasoning_left = -1;  // reasoning tokens still allowed; -1 = no limit
    bool json = false;    // JSON object, else tool calls
    JsonPrefix json_object{true};
    DsmlCallGrammar calls;
    bool Feed(std::string_view bytes);
    bool Complete() const { return !reasoning && (json ? json_object.Complete() : calls.Complete()); }
  };
  OutputConstraint(const tokenizer::Tokenizer& tokenizer, State state);
  bool TokenAllowed(int32_t token, State* state) const;

  const tokenizer::Tokenizer& tokenizer_;
  int32_t dsml_token_ = -1, eos_ = -1;
  State state_;
};

}  // namespace dsv4::server
