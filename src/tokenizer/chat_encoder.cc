#include "tokenizer/chat_encoder.h"

#include <algorithm>
#include <set>

#include "tokenizer/chat_format.h"
#include "tokenizer/py_json.h"

namespace dsv4::tokenizer {

namespace {

using nlohmann::ordered_json;

// A message after the merge step (chat-format §2.3 step 3): user turns become lists of
// text and tool_result blocks.
struct Block {
  bool tool_result = false;
  std::string text;  // text, or the tool result's content
  std::string tool_use_id;
};
struct Msg {
  ChatMessage m;
  bool has_blocks = false;
  std::vector<Block> blocks;
};

bool HasTools(const ChatMessage& m) { return m.tools.is_array() && !m.tools.empty(); }

class Builder {
 public:
  void Control(std::string_view s) { Add(s, true); }
  void Content(std::string_view s) { Add(s, false); }
  EncodedPrompt Take() {
    p_.starts_in_reasoning = p_.text.ends_with(v4::kThinkOpen);
    return std::move(p_);
  }

 private:
  void Add(std::string_view s, bool control) {
    if (s.empty()) return;
    p_.text += s;
    if (!p_.segments.empty() && p_.segments.back().control == control) {
      p_.segments.back().text += s;
    } else {
      p_.segments.push_back(PromptSegment{std::string(s), control});
    }
  }
  EncodedPrompt p_;
};

// Step 1: request-level tools / response_format go onto the first system (or developer)
// message; otherwise an empty system message is inserted (vLLM's wrapper does the same).
std::vector<ChatMessage> AttachTools(const ChatRequest& req) {
  std::vector<ChatMessage> msgs = req.messages;
  const bool tools = req.tools.is_array() && !req.tools.empty();
  // Only a json_schema response format is rendered; "text" and "json_object" leave the
  // prompt unchanged (DeepSeek's own API only accepts json_object and adds no text).
  const bool rf =
      req.response_format.is_object() && req.response_format.value("type", "") == "json_schema";
  if (!tools && !rf) return msgs;
  if (msgs.empty() || (msgs[0].role != "system" && msgs[0].role != "developer")) {
    ChatMessage sys;
    sys.role = "system";
    msgs.insert(msgs.begin(), std::move(sys));
  }
  if (tools) msgs[0].tools = req.tools;
  if (rf) msgs[0].response_format = req.response_format;
  return msgs;
}

std::vector<ChatMessage> FoldMidSystems(std::vector<ChatMessage> msgs) {
  std::vector<ChatMessage> out;
  bool only_systems_so_far = true;
  for (ChatMessage& m : msgs) {
    if (m.role == "system" && !out.empty()) {
      if (only_systems_so_far) {
        ChatMessage& first = out[0];
        first.content = first.content.empty() ? m.content : first.content + "\n\n" + m.content;
        if (HasTools(m) && !HasTools(first)) first.tools = m.tools;
        if (!m.response_format.is_null() && first.response_format.is_null()) {
          first.response_format = m.response_format;
        }
      } else {
        ChatMessage u;
        u.role = "user";
        u.content = "<system-reminder>\n" + m.content + "\n</system-reminder>";
        out.push_back(std::move(u));
      }
      continue;
    }
    if (m.role != "system") only_systems_so_far = false;
    out.push_back(std::move(m));
  }
  return out;
}

// Steps 3 and 4: merge tool results and user messages into user turns, then order the
// results of each turn by the call order of the closest preceding assistant.
std::vector<Msg> MergeAndSort(const std::vector<ChatMessage>& msgs) {
  std::vector<Msg> out;
  for (const ChatMessage& m : msgs) {
    const bool prev_user_blocks =
        !out.empty() && out.back().m.role == "user" && out.back().has_blocks;
    if (m.role == "tool") {
      Block b{true, m.content, m.tool_call_id};
      if (prev_user_blocks) {
        out.back().blocks.push_back(std::move(b));
      } else {
        Msg u;
        u.m.role = "user";
        u.has_blocks = true;
        u.blocks.push_back(std::move(b));
        out.push_back(std::move(u));
      }
    } else if (m.role == "user") {
      Block b{false, m.content, ""};
      if (prev_user_blocks && out.back().m.task.empty()) {
        out.back().blocks.push_back(std::move(b));
      } else {
        Msg u;
        u.m = m;
        u.has_blocks = true;
        u.blocks.push_back(std::move(b));
        out.push_back(std::move(u));
      }
    } else {
      Msg x;
      x.m = m;
      out.push_back(std::move(x));
    }
  }
  std::map<std::string, size_t> order;
  for (Msg& x : out) {
    if (x.m.role == "assistant" && !x.m.tool_calls.empty()) {
      order.clear();
      for (size_t i = 0; i < x.m.tool_calls.size(); ++i) order.emplace(x.m.tool_calls[i].id, i);
      continue;
    }
    if (x.m.role != "user" || !x.has_blocks) continue;
    std::vector<Block> results;
    for (const Block& b : x.blocks) {
      if (b.tool_result) results.push_back(b);
    }
    if (results.size() < 2) continue;
    auto pos = [&](const Block& b) {
      auto it = order.find(b.tool_use_id);
      return it == order.end() ? size_t{0} : it->second;  // unknown ids sort as 0
    };
    std::stable_sort(results.begin(), results.end(),
                     [&](const Block& a, const Block& b) { return pos(a) < pos(b); });
    size_t k = 0;
    for (Block& b : x.blocks) {
      if (b.tool_result) b = results[k++];
    }
  }
  return out;
}

int LastUserIndex(const std::vector<Msg>& msgs) {
  for (int i = static_cast<int>(msgs.size()) - 1; i >= 0; --i) {
    if (msgs[i].m.role == "user" || msgs[i].m.role == "developer") return i;
  }
  return -1;
}

// Step 6: forget reasoning before the last user turn.
std::vector<Msg> DropOldThinking(std::vector<Msg> msgs) {
  static const std::set<std::string> kKeep = {"user", "system", "tool", "latest_reminder",
                                              "direct_search_results"};
  const int last = LastUserIndex(msgs);
  std::vector<Msg> out;
  for (int i = 0; i < static_cast<int>(msgs.size()); ++i) {
    Msg& x = msgs[i];
    if (kKeep.count(x.m.role) || i >= last) {
      out.push_back(std::move(x));
    } else if (x.m.role == "assistant") {
      x.m.reasoning_content.reset();
      out.push_back(std::move(x));
    }
  }
  return out;
}

void RenderTools(const ordered_json& tools, Builder* b) {
  b->Control("\n\n");
  b->Control(v4::kToolsBlockHead);
  bool first = true;
  for (const ordered_json& t : tools) {
    if (!first) b->Content("\n");
    first = false;
    b->Content(PyJsonDumps(t.contains("function") ? t["function"] : t));
  }
  b->Control(v4::kToolsBlockTail);
}

void RenderResponseFormat(const ordered_json& rf, Builder* b) {
  b->Control("\n\n");
  b->Control(v4::kResponseFormatHead);
  b->Content(PyJsonDumps(rf));
}

// chat-format §2.8.
void RenderToolCalls(const std::vector<ToolCall>& calls, Builder* b) {
  b->Control("\n\n");
  b->Control(v4::kToolCallsOpen);
  b->Control("\n");
  for (size_t c = 0; c < calls.size(); ++c) {
    if (c > 0) b->Control("\n");
    ordered_json args = ordered_json::parse(calls[c].arguments, nullptr, false);
    if (args.is_discarded() || !args.is_object()) {
      args = ordered_json::object();
      args["arguments"] = calls[c].arguments;
    }
    b->Control("<｜DSML｜invoke name=\"");
    b->Content(calls[c].name);
    b->Control("\">\n");
    bool first = true;
    for (auto it = args.begin(); it != args.end(); ++it) {
      if (!first) b->Control("\n");
      first = false;
      const bool is_string = it.value().is_string();
      b->Control("<｜DSML｜parameter name=\"");
      b->Content(it.key());
      b->Control(is_string ? "\" string=\"true\">" : "\" string=\"false\">");
      b->Content(is_string ? it.value().get_ref<const std::string&>() : PyJsonDumps(it.value()));
      b->Control(v4::kParameterClose);
    }
    b->Control("\n");
    b->Control(v4::kInvokeClose);
  }
  b->Control("\n");
  b->Control(v4::kToolCallsClose);
}

const char* TaskToken(const std::string& task) {
  if (task == "action") return "<｜action｜>";
  if (task == "query") return "<｜query｜>";
  if (task == "authority") return "<｜authority｜>";
  if (task == "domain") return "<｜domain｜>";
  if (task == "title") return "<｜title｜>";
  if (task == "read_url") return "<｜read_url｜>";
  return nullptr;
}

}  // namespace

EffortProfile PreviewEffortProfile() {
  EffortProfile p;
  p.name = "preview";
  p.default_level = "high";
  for (const char* v : {"minimal", "low", "medium", "high"}) p.level_of[v] = "high";
  for (const char* v : {"xhigh", "max", "ultra"}) p.level_of[v] = "max";
  p.prefix_of["high"] = "";
  p.prefix_of["max"] = std::string(v4::kEffortMaxV4);
  return p;
}

EffortProfile GaEffortProfile() {
  EffortProfile p;
  p.name = "ga";
  p.default_level = "low";
  for (const char* v : {"minimal", "low"}) p.level_of[v] = "low";
  for (const char* v : {"medium", "high", "xhigh"}) p.level_of[v] = "high";
  for (const char* v : {"max", "ultra"}) p.level_of[v] = "max";
  p.prefix_of["low"] = "";
  p.prefix_of["high"] = std::string(v4::kEffortMaxV4);
  p.prefix_of["max"] = std::string(v4::kEffortMaxGa);
  return p;
}

Result<EncodedPrompt> EncodeChat(const ChatRequest& request, const ChatEncoderOptions& options) {
  static const std::set<std::string> kRoles = {"system", "user",      "assistant",
                                               "tool",   "developer", "latest_reminder"};
  for (size_t i = 0; i < request.messages.size(); ++i) {
    const ChatMessage& m = request.messages[i];
    if (!kRoles.count(m.role)) {
      return Status::Fail("messages[" + std::to_string(i) + "]: unsupported role '" + m.role + "'");
    }
    if (!m.task.empty() && TaskToken(m.task) == nullptr) {
      return Status::Fail("messages[" + std::to_string(i) + "]: unsupported task '" + m.task + "'");
    }
    for (const ToolCall& c : m.tool_calls) {
      if (c.name.find_first_of("\"<>\r\n") != std::string::npos) {
        return Status::Fail("messages[" + std::to_string(i) + "]: tool name '" + c.name +
                            "' cannot be written in DSML");
      }
    }
  }
  std::string effort_prefix;
  if (request.thinking) {
    std::string level = options.effort.default_level;
    if (!request.reasoning_effort.empty()) {
      auto it = options.effort.level_of.find(request.reasoning_effort);
      if (it == options.effort.level_of.end()) {
        return Status::Fail("unsupported reasoning_effort '" + request.reasoning_effort + "'");
      }
      level = it->second;
    }
    effort_prefix = options.effort.prefix_of.at(level);
  }

  std::vector<ChatMessage> attached = AttachTools(request);
  if (options.mid_system == MidSystemPolicy::kFoldIntoUser)
    attached = FoldMidSystems(std::move(attached));
  std::vector<Msg> msgs = MergeAndSort(attached);
  bool drop = request.drop_thinking;
  for (const Msg& x : msgs) {
    if (HasTools(x.m)) drop = false;  // with tools every turn keeps its reasoning
  }
  const bool think = request.thinking;
  if (think && drop) msgs = DropOldThinking(std::move(msgs));
  const int last_user = LastUserIndex(msgs);

  Builder b;
  if (options.add_bos) b.Control(v4::kBos);
  for (int i = 0; i < static_cast<int>(msgs.size()); ++i) {
    const Msg& x = msgs[i];
    const ChatMessage& m = x.m;
    if (i == 0 && think) b.Control(effort_prefix);
    if (m.role == "system" || m.role == "developer") {
      if (m.role == "developer") b.Control(v4::kUser);
      b.Content(m.content);
      if (HasTools(m)) RenderTools(m.tools, &b);
      if (!m.response_format.is_null()) RenderResponseFormat(m.response_format, &b);
    } else if (m.role == "user") {
      b.Control(v4::kUser);
      if (!x.has_blocks) {
        b.Content(m.content);
      } else {
        for (size_t k = 0; k < x.blocks.size(); ++k) {
          if (k > 0) b.Control("\n\n");
          if (x.blocks[k].tool_result) {
            b.Control(v4::kToolResultOpen);
            b.Content(x.blocks[k].text);
            b.Control(v4::kToolResultClose);
          } else {
            b.Content(x.blocks[k].text);
          }
        }
      }
    } else if (m.role == "latest_reminder") {
      b.Control(v4::kReminder);
      b.Content(m.content);
    } else if (m.role == "assistant") {
      const bool prev_task = i > 0 && !msgs[i - 1].m.task.empty();
      if (think && !prev_task && (!drop || i > last_user)) {
        b.Content(m.reasoning_content.value_or(""));
        b.Control(v4::kThinkClose);
      }
      b.Content(m.content);
      if (!m.tool_calls.empty()) RenderToolCalls(m.tool_calls, &b);
      if (!m.prefix) b.Control(v4::kEos);
    }
    // Step C: the generation prompt / transition after this message.
    if (i + 1 < static_cast<int>(msgs.size()) && msgs[i + 1].m.role != "assistant" &&
        msgs[i + 1].m.role != "latest_reminder") {
      continue;
    }
    if (!m.task.empty()) {
      if (m.task == "action") {
        b.Control(v4::kAssistant);
        b.Control(think ? v4::kThinkOpen : v4::kThinkClose);
      }
      b.Control(TaskToken(m.task));
    } else if (m.role == "user" || m.role == "developer") {
      b.Control(v4::kAssistant);
      b.Control(think && (!drop || i >= last_user) ? v4::kThinkOpen : v4::kThinkClose);
    }
  }
  return b.Take();
}

std::vector<int32_t> TokenizePrompt(const Tokenizer& tokenizer, const EncodedPrompt& prompt,
                                    bool match_special_in_content) {
  if (match_special_in_content) return tokenizer.Encode(prompt.text);
  // Control byte ranges; an added token is honoured only inside one of them. The text is
  // still tokenized as a whole so that pieces never break at segment boundaries.
  std::vector<std::pair<size_t, size_t>> control;
  size_t off = 0;
  for (const PromptSegment& s : prompt.segments) {
    if (s.control) control.emplace_back(off, off + s.text.size());
    off += s.text.size();
  }
  std::vector<int32_t> ids;
  tokenizer.EncodeAppendFiltered(
      prompt.text,
      [&](size_t at, size_t len) {
        auto it = std::upper_bound(control.begin(), control.end(), std::make_pair(at, SIZE_MAX));
        if (it == control.begin()) return false;
        --it;
        return at >= it->first && at + len <= it->second;
      },
      &ids);
  return ids;
}

}  // namespace dsv4::tokenizer
