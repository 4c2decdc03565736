// dsv4 tokenize: the tokenizer and the V4 chat encoder from the command line.
//
//   dsv4 tokenize --tokenizer PATH (--text TEXT | --file F) [--json]
//   dsv4 tokenize [--tokenizer PATH] --chat REQUEST.json [--json] [--prompt]
//                 [--effort-profile preview|ga] [--mid-system fold|reference] [--literal-special]
//
// PATH is a tokenizer.json or a model directory holding one (default: $DSV4_TOKENIZER).
// Text mode adds no special tokens. --json prints one line {"ids": [...]} (chat mode adds
// "prompt"); otherwise one "id<TAB>piece" line per token, the piece JSON-quoted with bytes
// that are not valid UTF-8 written as \xNN. --chat encodes an OpenAI chat-completions
// request body; without a tokenizer, or with --prompt, it prints the prompt text itself.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "args.h"
#include "commands.h"
#include "tokenizer/chat_encoder.h"
#include "tokenizer/openai_request.h"
#include "tokenizer/py_json.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace dsv4::cli {

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Require(bool(in), "cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A token piece as a quoted string; invalid UTF-8 bytes as \xNN so output stays text.
std::string QuotePiece(std::string_view bytes) {
  std::string valid;
  size_t i = 0;
  std::string out = "\"";
  while (i < bytes.size()) {
    // Longest valid prefix from i, then one escaped byte.
    size_t j = i;
    while (j < bytes.size()) {
      const auto b = static_cast<unsigned char>(bytes[j]);
      size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
      if (len == 0 || j + len > bytes.size() || !tokenizer::IsValidUtf8(bytes.substr(j, len)))
        break;
      j += len;
    }
    std::string part;
    tokenizer::AppendPyJsonString(bytes.substr(i, j - i), &part);
    out += part.substr(1, part.size() - 2);
    if (j < bytes.size()) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", static_cast<unsigned char>(bytes[j]));
      out += hex;
      ++j;
    }
    i = j;
  }
  return out + "\"";
}

void PrintIds(const tokenizer::Tokenizer& tok, const std::vector<int32_t>& ids, bool json,
              const std::string* prompt) {
  if (json) {
    nlohmann::ordered_json j;
    j["ids"] = ids;
    if (prompt != nullptr) j["prompt"] = *prompt;
    std::cout << j.dump() << "\n";
    return;
  }
  for (int32_t id : ids) std::cout << id << "\t" << QuotePiece(tok.TokenBytes(id)) << "\n";
}

}  // namespace

int TokenizeCommand(int argc, char** argv) {
  Args args(argc, argv, 2, {"json", "prompt", "literal-special"},
            {"tokenizer", "text", "file", "chat", "effort-profile", "mid-system"});
  std::string tok_path = args.Get("tokenizer");
  if (tok_path.empty() && std::getenv("DSV4_TOKENIZER") != nullptr)
    tok_path = std::getenv("DSV4_TOKENIZER");
  std::optional<tokenizer::Tokenizer> tok;
  if (!tok_path.empty()) {
    auto loaded = tokenizer::Tokenizer::FromFile(tok_path);
    if (!loaded.ok()) throw Error(loaded.error());
    tok.emplace(std::move(loaded).value());
  }
  const bool json = args.Has("json");

  if (args.Has("chat")) {
    Require(!args.Has("text") && !args.Has("file"), "--chat cannot be combined with --text/--file");
    const std::string body_text = ReadAll(args.Required("chat"));
    const auto body = nlohmann::ordered_json::parse(body_text, nullptr, false);
    Require(!body.is_discarded(), args.Get("chat") + " is not valid JSON");
    auto request = tokenizer::ChatRequestFromOpenAI(body);
    if (!request.ok()) throw Error(request.error());
    tokenizer::ChatEncoderOptions options;
    const std::string profile = args.Get("effort-profile", "preview");
    Require(profile == "preview" || profile == "ga", "--effort-profile must be preview or ga");
    if (profile == "ga") options.effort = tokenizer::GaEffortProfile();
    const std::string mid = args.Get("mid-system", "fold");
    Require(mid == "fold" || mid == "reference", "--mid-system must be fold or reference");
    if (mid == "reference") options.mid_system = tokenizer::MidSystemPolicy::kReference;
    auto prompt = tokenizer::EncodeChat(request.value(), options);
    if (!prompt.ok()) throw Error(prompt.error());
    if (!tok || args.Has("prompt")) {
      if (json) {
        std::cout << nlohmann::ordered_json{{"prompt", prompt->text}}.dump() << "\n";
      } else {
        std::cout << prompt->text;
      }
      return 0;
    }
    const auto ids = tokenizer::TokenizePrompt(*tok, prompt.value(), !args.Has("literal-special"));
    PrintIds(*tok, ids, json, &prompt->text);
    return 0;
  }

  Require(tok.has_value(), "missing required option --tokenizer");
  Require(args.Has("text") != args.Has("file"), "give exactly one of --text or --file");
  const std::string text = args.Has("text") ? args.Get("text") : ReadAll(args.Get("file"));
  PrintIds(*tok, tok->Encode(text), json, nullptr);
  return 0;
}

}  // namespace dsv4::cli
