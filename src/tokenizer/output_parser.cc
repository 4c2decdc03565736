#include "tokenizer/output_parser.h"

#include <algorithm>
#include <random>

#include "tokenizer/chat_format.h"
#include "tokenizer/py_json.h"
#include "tokenizer/utf8.h"

namespace dsv4::tokenizer {

namespace {

using nlohmann::ordered_json;

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Length of the longest suffix of `buf` that is a proper prefix of `tag`.
size_t PartialSuffix(std::string_view buf, std::string_view tag) {
  for (size_t k = std::min(buf.size(), tag.size() - 1); k > 0; --k) {
    if (buf.substr(buf.size() - k) == tag.substr(0, k)) return k;
  }
  return 0;
}

std::string DefaultCallId(size_t index) {
  static const char kAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng(std::random_device{}());
  char head[16];
  std::snprintf(head, sizeof(head), "call_%02zu_", index % 100);
  std::string id = head;
  for (int i = 0; i < 24; ++i) id += kAlnum[rng() % 62];
  return id;
}

// Types a JSON schema allows ("type": "x" or ["x", "y"]); empty when unknown.
std::vector<std::string> SchemaTypes(const ordered_json* schema) {
  std::vector<std::string> types;
  if (schema == nullptr || !schema->is_object() || !schema->contains("type")) return types;
  const ordered_json& t = (*schema)["type"];
  if (t.is_string()) types.push_back(t.get<std::string>());
  if (t.is_array()) {
    for (const auto& e : t) {
      if (e.is_string()) types.push_back(e.get<std::string>());
    }
  }
  return types;
}

bool Matches(const ordered_json& v, const std::string& type) {
  if (type == "string") return v.is_string();
  if (type == "integer") return v.is_number_integer() || v.is_number_unsigned();
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_boolean();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "null") return v.is_null();
  return true;
}

// One parameter value (chat-format §4.4 #6): string="true" -> the raw text; "false" ->
// JSON. When the flag contradicts the schema, the schema wins where the text allows it;
// JSON that does not parse stays a string.
ordered_json ParamValue(const std::string& raw, int string_flag, const ordered_json* schema,
                        std::vector<std::string>* warnings) {
  const std::vector<std::string> types = SchemaTypes(schema);
  auto allows = [&](const ordered_json& v) {
    return types.empty() ||
           std::any_of(types.begin(), types.end(), [&](auto& t) { return Matches(v, t); });
  };
  const bool string_only = types.size() == 1 && types[0] == "string";
  if (string_flag == 1) {
    if (!types.empty() && !allows(ordered_json(raw))) {
      ordered_json parsed = ordered_json::parse(raw, nullptr, false);
      if (!parsed.is_discarded() && allows(parsed)) return parsed;
    }
    return raw;
  }
  if (string_only) return raw;
  ordered_json parsed = ordered_json::parse(raw, nullptr, false);
  if (parsed.is_discarded()) {
    warnings->push_back("non-JSON value in a string=\"false\" parameter kept as a string");
    return raw;
  }
  return parsed;
}

enum class Parse { kOk, kNeedMore, kMalformed };

// Cursor over the text of one invoke.
struct Cursor {
  std::string_view s;
  size_t pos = 0;
  void SkipSpace() {
    while (pos < s.size() && IsSpace(s[pos])) ++pos;
  }
  std::string_view Rest() const { return s.substr(pos); }
  // kOk and advance when the text continues with `lit`; kNeedMore when it ends inside it.
  Parse Expect(std::string_view lit) {
    const std::string_view r = Rest();
    if (r.size() < lit.size())
      return lit.substr(0, r.size()) == r ? Parse::kNeedMore : Parse::kMalformed;
    if (r.substr(0, lit.size()) != lit) return Parse::kMalformed;
    pos += lit.size();
    return Parse::kOk;
  }
  // Reads `name="VALUE"` (after optional spaces); VALUE has no quote, '<', '>' or newline.
  Parse Attr(std::string_view name, std::string* value) {
    SkipSpace();
    Parse p = Expect(name);
    if (p != Parse::kOk) return p;
    if ((p = Expect("=\"")) != Parse::kOk) return p;
    const size_t end = s.find('"', pos);
    const size_t bad = s.find_first_of("<>\n", pos);
    if (bad != std::string_view::npos && (end == std::string_view::npos || bad < end))
      return Parse::kMalformed;
    if (end == std::string_view::npos) return Parse::kNeedMore;
    *value = std::string(s.substr(pos, end - pos));
    pos = end + 1;
    return Parse::kOk;
  }
};

struct Invoke {
  std::string name;
  ordered_json args = ordered_json::object();
  size_t consumed = 0;
};

// Parses "<｜DSML｜invoke name="N"> PARAM* </｜DSML｜invoke>" at the start of `s`, or the
// "direct JSON" body form (§4.4 #5). Duplicate parameters: the last one wins.
Parse ParseInvoke(std::string_view s, const OutputParserOptions& opt, Invoke* out,
                  std::vector<std::string>* warnings) {
  Cursor c{s};
  Parse p = c.Expect(v4::kInvokeStart);
  if (p != Parse::kOk) return p;
  if ((p = c.Attr("name", &out->name)) != Parse::kOk) return p;
  c.SkipSpace();
  if ((p = c.Expect(">")) != Parse::kOk) return p;
  auto schema_it = opt.tool_schemas.find(out->name);
  const ordered_json* schema = schema_it == opt.tool_schemas.end() ? nullptr : &schema_it->second;
  bool any_param = false;
  while (true) {
    c.SkipSpace();
    const std::string_view r = c.Rest();
    if (r.empty()) return Parse::kNeedMore;
    if (r.starts_with(v4::kInvokeClose)) {
      c.pos += v4::kInvokeClose.size();
      break;
    }
    if (r.starts_with(v4::kParameterStart)) {
      c.pos += v4::kParameterStart.size();
      std::string key, flag;
      if ((p = c.Attr("name", &key)) != Parse::kOk) return p;
      int string_flag = -1;
      c.SkipSpace();
      if (c.Rest().starts_with("string")) {
        if ((p = c.Attr("string", &flag)) != Parse::kOk) return p;
        string_flag = flag == "true" ? 1 : flag == "false" ? 0 : -1;
      }
      c.SkipSpace();
      if ((p = c.Expect(">")) != Parse::kOk) return p;
      const size_t end = s.find(v4::kParameterClose, c.pos);  // the first closing tag wins
      if (end == std::string_view::npos) return Parse::kNeedMore;
      const std::string raw(s.substr(c.pos, end - c.pos));
      c.pos = end + v4::kParameterClose.size();
      const ordered_json* prop = nullptr;
      if (schema && schema->contains("properties") && (*schema)["properties"].contains(key)) {
        prop = &(*schema)["properties"][key];
      }
      if (out->args.contains(key))
        warnings->push_back("duplicate parameter '" + key + "': last wins");
      out->args[key] = ParamValue(raw, string_flag, prop, warnings);
      any_param = true;
      continue;
    }
    if (!any_param && r[0] == '{') {
      const size_t end = s.find(v4::kInvokeClose, c.pos);
      if (end == std::string_view::npos) return Parse::kNeedMore;
      ordered_json obj = ordered_json::parse(s.substr(c.pos, end - c.pos), nullptr, false);
      if (obj.is_discarded() || !obj.is_object()) return Parse::kMalformed;
      out->args = std::move(obj);
      c.pos = end + v4::kInvokeClose.size();
      warnings->push_back("invoke body given as direct JSON");
      break;
    }
    if (v4::kInvokeClose.starts_with(r) || v4::kParameterStart.starts_with(r))
      return Parse::kNeedMore;
    return Parse::kMalformed;
  }
  // §4.4 #7: arguments wrapped in one "arguments"/"input" object the schema does not know.
  if (schema && out->args.size() == 1) {
    const std::string key = out->args.begin().key();
    const bool known = schema->contains("properties") && (*schema)["properties"].contains(key);
    if ((key == "arguments" || key == "input") && !known && out->args.begin().value().is_object()) {
      ordered_json inner = out->args.begin().value();
      out->args = std::move(inner);
      warnings->push_back("unwrapped arguments given inside '" + key + "'");
    }
  }
  out->consumed = c.pos;
  return Parse::kOk;
}

}  // namespace

OutputParser::OutputParser(OutputParserOptions options)
    : options_(std::move(options)),
      state_(options_.starts_in_reasoning ? State::kReasoning : State::kContent) {
  if (!options_.make_call_id) options_.make_call_id = DefaultCallId;
}

ParserDelta OutputParser::Push(std::string_view text) {
  ParserDelta d;
  if (finished_) return d;
  buf_.append(text);
  Process(&d, false);
  return d;
}

ParserDelta OutputParser::Finish() {
  ParserDelta d;
  if (finished_) return d;
  Process(&d, true);
  finished_ = true;
  return d;
}

void OutputParser::Process(ParserDelta* d, bool final) {
  while (state_ == State::kTools ? ProcessTools(d, final) : ProcessText(d, final)) {
  }
}

void OutputParser::EmitText(std::string_view text, ParserDelta* d) {
  if (text.empty()) return;
  switch (state_) {
    case State::kReasoning:
      d->reasoning += text;
      result_.reasoning += text;
      break;
    case State::kContent:
      d->content += text;
      result_.content += text;
      break;
    default: {
      // After a tool block only whitespace is expected (§4.4 #12): drop whitespace, keep
      // anything else as content so no text is lost.
      if (!after_text_started_) {
        while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
        if (text.empty()) return;
        after_text_started_ = true;
        result_.warnings.push_back("text after the tool calls block kept as content");
      }
      d->content += text;
      result_.content += text;
      break;
    }
  }
}

bool OutputParser::ProcessText(ParserDelta* d, bool final) {
  std::vector<std::string_view> markers = {v4::kToolCallsStart, v4::kEos};
  if (state_ != State::kContent) markers.push_back(v4::kThinkClose);
  size_t best = std::string::npos;
  std::string_view marker;
  for (std::string_view m : markers) {
    const size_t p = buf_.find(m);
    if (p < best) {
      best = p;
      marker = m;
    }
  }
  if (best != std::string::npos) {
    std::string_view before = std::string_view(buf_).substr(0, best);
    if (marker == v4::kToolCallsStart) {
      // The "\n\n" before the block belongs to the format (§4.2), whatever token carried it.
      EmitText(state_ == State::kAfterTools ? before : TrimRight(before), d);
      if (state_ == State::kReasoning) result_.reasoning_closed = true;
      state_ = State::kTools;
      expect_open_gt_ = true;
    } else if (marker == v4::kThinkClose) {
      EmitText(before, d);
      if (state_ == State::kReasoning) {
        result_.reasoning_closed = true;
        state_ = State::kContent;
      } else {
        result_.warnings.push_back("stray </think> after the tool calls ignored");
      }
    } else {  // EOS: the end of the message; anything later is kept as after-text
      EmitText(before, d);
      result_.saw_eos = true;
      state_ = State::kAfterTools;
    }
    buf_.erase(0, best + marker.size());
    scanned_close_ = 0;
    return true;
  }
  if (final) {
    EmitText(buf_, d);
    buf_.clear();
    return false;
  }
  // Hold back what may still turn into a marker, the whitespace before it (stripped if
  // a tool block follows) and an unfinished UTF-8 character.
  size_t keep = 0;
  for (std::string_view m : markers) keep = std::max(keep, PartialSuffix(buf_, m));
  size_t cut = buf_.size() - keep;
  while (cut > 0 && IsSpace(buf_[cut - 1])) --cut;
  cut = std::min(cut, CompletePrefixLength(std::string_view(buf_).substr(0, cut)));
  EmitText(std::string_view(buf_).substr(0, cut), d);
  buf_.erase(0, cut);
  return false;
}

void OutputParser::AddCall(std::string name, nlohmann::ordered_json args, ParserDelta* d) {
  ParsedToolCall call;
  call.index = result_.tool_calls.size();
  call.id = options_.make_call_id(call.index);
  call.name = std::move(name);
  call.arguments = PyJsonDumps(args);
  result_.tool_calls.push_back(call);
  d->tool_calls.push_back(std::move(call));
}

bool OutputParser::ProcessTools(ParserDelta* d, bool final) {
  // The '>' that ends "<｜DSML｜tool_calls", then whitespace between tags. Whitespace is
  // dropped only once the next tag is in sight, so the decision never depends on how the
  // text was chunked.
  if (expect_open_gt_ && !buf_.empty()) {
    expect_open_gt_ = false;
    if (buf_[0] == '>') buf_.erase(0, 1);
  }
  size_t skip = 0;
  while (skip < buf_.size() && IsSpace(buf_[skip])) ++skip;
  if (skip == buf_.size()) {
    if (final) buf_.clear();
    return false;
  }
  if (skip > 0 && buf_[skip] == '<') {
    buf_.erase(0, skip);
    scanned_close_ = 0;
  }
  const std::string_view b = buf_;
  auto drop_rest = [&] {
    result_.dropped_tool_text += buf_;
    result_.warnings.push_back("unfinished tool call dropped at the end of the output");
    buf_.clear();
    return false;
  };
  if (b.starts_with(v4::kEos)) {  // generation ended inside the block
    buf_.erase(0, v4::kEos.size());
    result_.saw_eos = true;
    state_ = State::kAfterTools;
    return true;
  }
  if (b.starts_with(v4::kToolCallsClose)) {
    buf_.erase(0, v4::kToolCallsClose.size());
    state_ = State::kAfterTools;
    return true;
  }
  if (b.starts_with(v4::kInvokeStart)) {
    // Parse only once a closing tag has arrived: keeps long arguments linear-time.
    const size_t from = std::max(scanned_close_, v4::kInvokeStart.size());
    const size_t close = b.find(v4::kInvokeClose, from);
    if (close == std::string_view::npos) {
      if (final) return drop_rest();
      scanned_close_ =
          b.size() >= v4::kInvokeClose.size() ? b.size() - v4::kInvokeClose.size() + 1 : 0;
      return false;
    }
    Invoke inv;
    const Parse p = ParseInvoke(b, options_, &inv, &result_.warnings);
    if (p == Parse::kOk) {
      AddCall(std::move(inv.name), std::move(inv.args), d);
      buf_.erase(0, inv.consumed);
      scanned_close_ = 0;
      return true;
    }
    if (p == Parse::kNeedMore) {
      if (final) return drop_rest();
      scanned_close_ = close + 1;  // wait for a later closing tag
      return false;
    }
    // Malformed: surface the raw invoke as content rather than lose it.
    const size_t end = close + v4::kInvokeClose.size();
    result_.warnings.push_back("malformed DSML invoke kept as content");
    d->content += b.substr(0, end);
    result_.content += b.substr(0, end);
    buf_.erase(0, end);
    scanned_close_ = 0;
    return true;
  }
  if (v4::kToolCallsClose.starts_with(b) || v4::kInvokeStart.starts_with(b) ||
      v4::kEos.starts_with(b)) {
    return final ? drop_rest() : false;  // a tag still arriving
  }
  // Text that is not DSML inside the block: surface it as content, up to the next '<'
  // (a tag may start there). Whitespace right before a '<' is dropped like the
  // whitespace between tags, whichever way the text was chunked.
  size_t next = b.find('<', 1);
  if (next == std::string_view::npos) {
    if (final) {
      next = b.size();
    } else {
      next = b.size();
      while (next > 0 && IsSpace(b[next - 1])) --next;  // decided once the next text shows
      next = CompletePrefixLength(b.substr(0, next));
    }
  } else {
    while (next > 0 && IsSpace(b[next - 1])) --next;
  }
  if (next == 0) {
    if (!final) return false;
    next = b.size();
  }
  result_.warnings.push_back("non-DSML text inside the tool calls block kept as content");
  d->content += b.substr(0, next);
  result_.content += b.substr(0, next);
  buf_.erase(0, next);
  scanned_close_ = 0;
  return true;
}

}  // namespace dsv4::tokenizer
