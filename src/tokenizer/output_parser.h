// Streaming parser of DeepSeek-V4 output text (chat-format §3, §4): splits generated text
// into reasoning_content, content and tool calls, incrementally, tolerating what real
// models emit (tool calls inside reasoning, "\n\n" merged into the previous token,
// partial tags at chunk ends, malformed DSML, text after the tool block).
//
// Feed it the text of an IncrementalDecoder (added tokens rendered as text). It never
// throws; text that cannot be parsed as DSML is surfaced as content, except an unfinished
// call at the end of a truncated generation, which is dropped (raw DSML must not leak
// into content) and reported in result().dropped_tool_text.
//
// Not thread-safe: one parser per generated sequence.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace dsv4::tokenizer {

struct ParsedToolCall {
  size_t index = 0;  // 0-based, in order of appearance
  std::string id;    // "call_00_<24 alphanumerics>" unless options.make_call_id says otherwise
  std::string name;
  std::string arguments;  // a JSON object, serialised like the reference (json.dumps)
};

// What one Push/Finish produced. Tool calls are emitted once complete (at their closing
// tag), each with its full arguments.
struct ParserDelta {
  std::string reasoning;
  std::string content;
  std::vector<ParsedToolCall> tool_calls;
  bool empty() const { return reasoning.empty() && content.empty() && tool_calls.empty(); }
};

struct ParsedOutput {
  std::string reasoning;
  std::string content;
  std::vector<ParsedToolCall> tool_calls;
  bool reasoning_closed = false;      // saw </think> (or a tool block that ended reasoning)
  bool saw_eos = false;               // the EOS text was in the stream
  std::string dropped_tool_text;      // DSML of calls cut off by the end of the stream
  std::vector<std::string> warnings;  // tolerated irregularities, for logging
};

struct OutputParserOptions {
  // True when the prompt ended with "<think>" (EncodedPrompt::starts_in_reasoning).
  bool starts_in_reasoning = false;
  // Tool name -> its JSON-schema `parameters` object: used to coerce values whose
  // string="true|false" flag does not match the schema, and to unwrap calls whose
  // arguments are wrapped in one "arguments"/"input" object (chat-format §4.4 #6, #7).
  std::map<std::string, nlohmann::ordered_json> tool_schemas;
  // Id of the call with the given index; default: "call_%02d_" + 24 random alphanumerics.
  std::function<std::string(size_t)> make_call_id;
};

class OutputParser {
 public:
  explicit OutputParser(OutputParserOptions options = {});

  // Consumes the next piece of generated text.
  ParserDelta Push(std::string_view text);
  // End of generation (EOS, stop, or length): flushes everything still held back.
  ParserDelta Finish();

  const ParsedOutput& result() const { return result_; }
  bool finished() const { return finished_; }

 private:
  enum class State { kReasoning, kContent, kTools, kAfterTools };
  void Process(ParserDelta* d, bool final);
  bool ProcessText(ParserDelta* d, bool final);   // reasoning / content / after-tools
  bool ProcessTools(ParserDelta* d, bool final);  // inside a tool block
  void EmitText(std::string_view text, ParserDelta* d);
  void AddCall(std::string name, nlohmann::ordered_json args, ParserDelta* d);

  OutputParserOptions options_;
  State state_;
  std::string buf_;                  // text not yet consumed
  size_t scanned_close_ = 0;         // tools: buf_ prefix known to hold no closing tag
  bool expect_open_gt_ = false;      // tools: the '>' of "<｜DSML｜tool_calls>" is still due
  bool after_text_started_ = false;  // after-tools text emitted (leading space dropped)
  bool finished_ = false;
  ParsedOutput result_;
};

}  // namespace dsv4::tokenizer
