#include "tokenizer/openai_request.h"

#include "tokenizer/py_json.h"

namespace dsv4::tokenizer {

namespace {

using nlohmann::ordered_json;

// User/system/assistant content: a string, null, or an array of parts whose text parts
// are concatenated (chat-format §2.3 step 2).
Status FlattenContent(const ordered_json& content, const std::string& where, std::string* out) {
  out->clear();
  if (content.is_null()) return Status::Ok();
  if (content.is_string()) {
    *out = content.get<std::string>();
    return Status::Ok();
  }
  if (!content.is_array())
    return Status::Fail(where + ".content must be a string, an array or null");
  for (const ordered_json& part : content) {
    if (part.is_string()) {
      *out += part.get<std::string>();
      continue;
    }
    const std::string type = part.is_object() ? part.value("type", "") : "";
    if ((type == "text" || type == "input_text") && part.contains("text") &&
        part["text"].is_string()) {
      *out += part["text"].get<std::string>();
    } else if (type == "image_url" || type == "input_image" || type == "image") {
      return Status::Fail(where + ": image content is not supported by DeepSeek-V4 text models");
    } else {
      return Status::Fail(where + ": unsupported content part type '" + type + "'");
    }
  }
  return Status::Ok();
}

// Tool results: a string, or a list whose text items are joined with blank lines and
// whose other items render as "[Unsupported <type>]" (the reference's rule).
std::string FlattenToolContent(const ordered_json& content) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return content.is_null() ? "" : PyJsonDumps(content);
  std::string out;
  bool first = true;
  for (const ordered_json& item : content) {
    if (!first) out += "\n\n";
    first = false;
    const std::string type = item.is_object() ? item.value("type", "") : "";
    if (item.is_string()) {
      out += item.get<std::string>();
    } else if (type == "text" && item.contains("text") && item["text"].is_string()) {
      out += item["text"].get<std::string>();
    } else {
      out += "[Unsupported " + type + "]";
    }
  }
  return out;
}

}  // namespace

Result<ChatRequest> ChatRequestFromOpenAI(const ordered_json& body) {
  if (!body.is_object()) return Status::Fail("request body must be a JSON object");
  if (!body.contains("messages") || !body["messages"].is_array()) {
    return Status::Fail("'messages' must be an array");
  }
  ChatRequest req;
  const ordered_json& msgs = body["messages"];
  for (size_t i = 0; i < msgs.size(); ++i) {
    const ordered_json& jm = msgs[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!jm.is_object() || !jm.contains("role") || !jm["role"].is_string()) {
      return Status::Fail(where + ": needs a string 'role'");
    }
    ChatMessage m;
    m.role = jm["role"].get<std::string>();
    if (m.role == "developer") m.role = "system";
    const ordered_json content = jm.value("content", ordered_json());
    if (m.role == "tool") {
      m.content = FlattenToolContent(content);
      m.tool_call_id = jm.value("tool_call_id", "");
    } else {
      Status st = FlattenContent(content, where, &m.content);
      if (!st.ok()) return st;
    }
    if (jm.contains("reasoning_content") && jm["reasoning_content"].is_string()) {
      m.reasoning_content = jm["reasoning_content"].get<std::string>();
    }
    if (jm.contains("tool_calls") && jm["tool_calls"].is_array()) {
      for (const ordered_json& tc : jm["tool_calls"]) {
        if (!tc.is_object() || !tc.contains("function") || !tc["function"].is_object()) {
          return Status::Fail(where + ": tool_calls entries need a 'function' object");
        }
        ToolCall call;
        call.id = tc.value("id", "");
        call.name = tc["function"].value("name", "");
        const ordered_json& args = tc["function"].value("arguments", ordered_json("{}"));
        call.arguments = args.is_string() ? args.get<std::string>() : args.dump();
        m.tool_calls.push_back(std::move(call));
      }
    }
    m.prefix = jm.value("prefix", false);
    req.messages.push_back(std::move(m));
  }
  if (body.contains("tools") && !body["tools"].is_null()) {
    if (!body["tools"].is_array()) return Status::Fail("'tools' must be an array");
    req.tools = body["tools"];
  }
  if (body.contains("response_format")) req.response_format = body["response_format"];

  // Thinking switch: DeepSeek's default is on.
  if (body.contains("thinking") && body["thinking"].is_object()) {
    const std::string type = body["thinking"].value("type", "enabled");
    req.thinking = type != "disabled";
  }
  if (body.contains("chat_template_kwargs") && body["chat_template_kwargs"].is_object()) {
    const ordered_json& kw = body["chat_template_kwargs"];
    for (const char* key : {"thinking", "enable_thinking"}) {
      if (kw.contains(key) && kw[key].is_boolean()) req.thinking = kw[key].get<bool>();
    }
    if (kw.contains("drop_thinking") && kw["drop_thinking"].is_boolean()) {
      req.drop_thinking = kw["drop_thinking"].get<bool>();
    }
  }
  if (body.contains("reasoning_effort") && body["reasoning_effort"].is_string()) {
    req.reasoning_effort = body["reasoning_effort"].get<std::string>();
    if (req.reasoning_effort == "none") {
      req.thinking = false;
      req.reasoning_effort.clear();
    }
  }
  return req;
}

}  // namespace dsv4::tokenizer
