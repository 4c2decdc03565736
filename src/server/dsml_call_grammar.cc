#include "server/dsml_call_grammar.h"

#include <algorithm>

namespace dsv4::server {
namespace {

using Json = nlohmann::ordered_json;

const std::string kDsml = "\xEF\xBD\x9C" "DSML" "\xEF\xBD\x9C";  // ｜DSML｜
const std::string kOpen = "\n\n<" + kDsml + "tool_calls>\n<" + kDsml + "invoke name=\"";
const std::string kValueClose = "</" + kDsml + "parameter>\n";
const std::string kInvokeClose = "</" + kDsml + "invoke>";
const std::string kNextInvoke = "\n<" + kDsml + "invoke name=\"";
const std::string kBlockClose = "\n</" + kDsml + "tool_calls>";

DsmlParam ParamFromSchema(const std::string& name, const Json& schema) {
  DsmlParam p;
  p.name = name;
  if (!schema.is_object()) return p;
  const Json type = schema.contains("type") ? schema["type"] : Json();
  if (type.is_string()) p.string_flag = type.get<std::string>() == "string" ? 1 : 0;
  if (schema.contains("enum") && schema["enum"].is_array() && !schema["enum"].empty()) {
    bool all_strings = true;
    for (const Json& v : schema["enum"]) all_strings = all_strings && v.is_string();
    p.string_flag = all_strings ? 1 : 0;
    for (const Json& v : schema["enum"]) {
      p.fixed_values.push_back(all_strings ? v.get<std::string>() : v.dump());
    }
  } else if (type.is_string() && type.get<std::string>() == "boolean") {
    p.fixed_values = {"true", "false"};
  }
  if (p.string_flag == 1 && schema.contains("maxLength") && schema["maxLength"].is_number_integer()) {
    p.max_chars = std::max<int64_t>(0, schema["maxLength"].get<int64_t>());
  }
  return p;
}

}  // namespace

std::vector<DsmlTool> DsmlToolsFromOpenAI(const Json& tools, const std::vector<std::string>& names) {
  std::vector<DsmlTool> out;
  if (!tools.is_array()) return out;
  for (const Json& t : tools) {
    const Json& f = t.contains("function") ? t["function"] : t;
    if (!f.is_object() || !f.contains("name") || !f["name"].is_string()) continue;
    DsmlTool tool;
    tool.name = f["name"].get<std::string>();
    if (!names.empty() && std::find(names.begin(), names.end(), tool.name) == names.end()) continue;
    const Json params = f.contains("parameters") ? f["parameters"] : Json::object();
    if (params.is_object() && params.contains("properties") && params["properties"].is_object()) {
      for (const auto& [name, schema] : params["properties"].items()) {
        if (tool.params.size() == 64) break;
        tool.params.push_back(ParamFromSchema(name, schema));
      }
      if (params.contains("required") && params["required"].is_array()) {
        for (const Json& r : params["required"]) {
          for (DsmlParam& p : tool.params) p.required |= r.is_string() && r.get<std::string>() == p.name;
        }
      }
    }
    out.push_back(std::move(tool));
  }
  return out;
}

DsmlCallGrammar::DsmlCallGrammar(std::shared_ptr<const std::vector<DsmlTool>> tools,
                                 bool multiple_calls)
    : tools_(std::move(tools)), multiple_(multiple_calls) {
  Offer({{kOpen, Kind::kOpen}});
}

void DsmlCallGrammar::Offer(std::vector<Choice> choices) {
  choices_ = std::make_shared<const std::vector<Choice>>(std::move(choices));
  matched_.clear();
  stage_ = Stage::kChoice;
}

void DsmlCallGrammar::ToolChoices() {
  std::vector<Choice> c;
  for (const DsmlTool& t : *tools_) c.push_back({t.name + "\">\n", Kind::kTool});
  Offer(std::move(c));
}

// After an invoke's header (`first`) or a parameter: another unused parameter, or the
// invoke's end once every required one was given.
void DsmlCallGrammar::ParamChoices(bool first) {
  const DsmlTool& tool = (*tools_)[size_t(tool_)];
  std::vector<Choice> c;
  bool missing_required = false;
  for (size_t i = 0; i < tool.params.size(); ++i) {
    const DsmlParam& p = tool.params[i];
    if (used_ >> i & 1) continue;
    missing_required |= p.required;
    for (int flag = 1; flag >= 0; --flag) {
      if (p.string_flag >= 0 && p.string_flag != flag) continue;
      c.push_back({"<" + kDsml + "parameter name=\"" + p.name + "\" string=\"" +
                       (flag ? "true" : "false") + "\">",
                   Kind::kParam, int(i), flag == 1});
    }
  }
  if (!missing_required) c.push_back({(first ? "\n" : "") + kInvokeClose, Kind::kInvokeEnd});
  Offer(std::move(c));
}

void DsmlCallGrammar::Chosen(const Choice& choice) {
  switch (choice.kind) {
    case Kind::kOpen:
    case Kind::kNextInvoke:
      ToolChoices();
      return;
    case Kind::kTool:
      for (size_t i = 0; i < tools_->size(); ++i) {
        if ((*tools_)[i].name + "\">\n" == choice.text) tool_ = int(i);
      }
      used_ = 0;
      ParamChoices(true);
      return;
    case Kind::kParam: {
      const DsmlParam& p = (*tools_)[size_t(tool_)].params[size_t(choice.param)];
      used_ |= uint64_t(1) << choice.param;
      if (!p.fixed_values.empty()) {
        std::vector<Choice> c;
        for (const std::string& v : p.fixed_values) c.push_back({v + kValueClose, Kind::kValueEnd});
        Offer(std::move(c));
      } else if (choice.as_string) {
        stage_ = Stage::kString;
        close_n_ = 0;
        utf8_ = 0;
        chars_ = 0;
        max_chars_ = p.max_chars;
      } else {
        stage_ = Stage::kJson;
        json_ = JsonPrefix();
      }
      return;
    }
    case Kind::kValueEnd:
      ParamChoices(false);
      return;
    case Kind::kInvokeEnd: {
      std::vector<Choice> c = {{kBlockClose, Kind::kBlockEnd}};
      if (multiple_) c.push_back({kNextInvoke, Kind::kNextInvoke});
      Offer(std::move(c));
      return;
    }
    case Kind::kBlockEnd:
      stage_ = Stage::kDone;
      return;
  }
}

bool DsmlCallGrammar::FeedChoice(char c) {
  const size_t n = matched_.size();
  const Choice* done = nullptr;
  bool any = false;
  for (const Choice& ch : *choices_) {
    if (ch.text.size() <= n || ch.text[n] != c || ch.text.compare(0, n, matched_) != 0) continue;
    any = true;
    if (ch.text.size() == n + 1) done = &ch;  // choices never prefix one another
  }
  if (!any) return false;
  if (done) {
    auto keep = choices_;  // `done` points into it
    Chosen(*done);
  } else {
    matched_ += c;
  }
  return true;
}

// A string value: any bytes up to the parameter's closing tag, at most max_chars_
// characters (then only the closing tag may follow).
bool DsmlCallGrammar::FeedString(char c) {
  // The partly matched tag was text after all; `c` may open it again. The text must be
  // well-formed UTF-8 (it becomes a JSON string).
  if (c == kValueClose[close_n_] && utf8_ == 0) {
    if (++close_n_ == kValueClose.size()) ParamChoices(false);
    return true;
  }
  auto starts_char = [](char b) { return (static_cast<unsigned char>(b) & 0xC0) != 0x80; };
  uint8_t utf8 = utf8_;
  int64_t added = 0;
  const bool reopen = c == kValueClose[0] && utf8_ == 0;
  for (size_t i = 0; i < close_n_; ++i) {
    if (!Utf8Step(&utf8, kValueClose[i])) return false;
    added += starts_char(kValueClose[i]) ? 1 : 0;
  }
  if (reopen && utf8 != 0) return false;
  if (!reopen) {
    if (!Utf8Step(&utf8, c)) return false;
    added += starts_char(c) ? 1 : 0;
  }
  if (max_chars_ >= 0 && chars_ + added > max_chars_) return false;
  chars_ += added;
  utf8_ = utf8;
  close_n_ = reopen ? 1 : 0;
  return true;
}

bool DsmlCallGrammar::Feed(char c) {
  switch (stage_) {
    case Stage::kChoice:
      return FeedChoice(c);
    case Stage::kString:
      return FeedString(c);
    case Stage::kJson:
      if (json_.Feed(c)) return true;
      if (!json_.CanEnd()) return false;
      if (c != kValueClose[0]) return false;
      Offer({{kValueClose, Kind::kValueEnd}});
      return FeedChoice(c);
    case Stage::kDone:
      return false;
  }
  return false;
}

}  // namespace dsv4::server
