// The DSML tool-call block (chat-format §2.8) as a byte-level grammar, for forcing a
// well-formed call (tool_choice "required" / a named tool): the block opening, an invoke
// of one of the allowed tools, its parameters by the tool's JSON schema (names from
// `properties`, string="true" for string types and "false" otherwise, `enum` values and
// booleans as fixed choices, `maxLength` honoured, every `required` one present, JSON
// values checked by JsonPrefix), then more invokes (when allowed) and the closing tag.
// Copyable (a candidate token is tried on a copy); the tool table is shared.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/json_prefix.h"

namespace dsv4::server {

struct DsmlParam {
  std::string name;
  int string_flag = -1;                  // 1: string="true", 0: "false", -1: either
  std::vector<std::string> fixed_values;  // enum / boolean: the value must be one of these
  int64_t max_chars = -1;                 // string maxLength; -1 = none
  bool required = false;
};

struct DsmlTool {
  std::string name;
  std::vector<DsmlParam> params;  // at most 64 are offered
};

// The tools of an OpenAI `tools` array (only `names` when non-empty).
std::vector<DsmlTool> DsmlToolsFromOpenAI(const nlohmann::ordered_json& tools,
                                          const std::vector<std::string>& names = {});

class DsmlCallGrammar {
 public:
  DsmlCallGrammar() = default;
  // `multiple_calls`: more than one invoke may follow (parallel calls).
  DsmlCallGrammar(std::shared_ptr<const std::vector<DsmlTool>> tools, bool multiple_calls);

  bool Feed(char c);  // false (and no change) when `c` cannot come next
  bool Complete() const { return stage_ == Stage::kDone; }

 private:
  enum class Kind : uint8_t { kOpen, kTool, kParam, kValueEnd, kInvokeEnd, kNextInvoke, kBlockEnd };
  struct Choice {
    std::string text;
    Kind kind;
    int param = -1;   // kParam: index into the tool's params
    bool as_string = false;
  };
  enum class Stage : uint8_t { kChoice, kString, kJson, kDone };

  void Offer(std::vector<Choice> choices);
  void ToolChoices();
  void ParamChoices(bool first);
  void Chosen(const Choice& choice);
  bool FeedChoice(char c);
  bool FeedString(char c);

  std::shared_ptr<const std::vector<DsmlTool>> tools_;
  bool multiple_ = false;
  Stage stage_ = Stage::kDone;
  std::shared_ptr<const std::vector<Choice>> choices_;
  std::string matched_;  // bytes of the current choice so far
  int tool_ = -1;
  uint64_t used_ = 0;    // parameters of the current invoke already given
  // kString: bytes of the closing tag matched so far, characters written, the limit.
  size_t close_n_ = 0;
  int64_t chars_ = 0, max_chars_ = -1;
  uint8_t utf8_ = 0;  // continuation bytes due
  JsonPrefix json_;
};

}  // namespace dsv4::server
