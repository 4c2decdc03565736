// The DeepSeek-V4 prompt encoder: chat request -> prompt text (and ids), reproducing
// DeepSeek's reference `encoding_dsv4.py` (chat-format §2-§6) byte for byte, plus the
// server-side decisions the reference leaves open (documented per option below).
//
// Thread safety: stateless functions; safe from any thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/chat_types.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::tokenizer {

// Per-model reasoning-effort configuration (chat-format §2.7): which API values exist and
// the prefix text each renders. Preview (April 2026) and GA (0731/0813) weights differ.
struct EffortProfile {
  std::string name;
  std::string default_level;                     // level used when the request gives none
  std::map<std::string, std::string> level_of;   // API value -> level
  std::map<std::string, std::string> prefix_of;  // level -> prefix text ("" = none)
};
EffortProfile PreviewEffortProfile();  // max -> EFFORT_MAX_V4; high/unset -> nothing
EffortProfile GaEffortProfile();       // low (default) nothing; high -> MAX_V4; max -> MAX_GA

// What to do with a `system` message that is not at the start (Claude Code sends them).
enum class MidSystemPolicy {
  // Recommended (chat-format §6.3): systems before the first non-system message join
  // the first system prompt ("\n\n"); later ones become a user text block wrapped in
  // <system-reminder>...</system-reminder>, merged with the adjacent user turn.
  kFoldIntoUser,
  // The reference: raw text glued to the previous turn, no generation prompt after it.
  kReference,
};

struct ChatEncoderOptions {
  EffortProfile effort = PreviewEffortProfile();
  MidSystemPolicy mid_system = MidSystemPolicy::kFoldIntoUser;
  bool add_bos = true;
};

// A piece of the prompt: encoder-written format text (`control`) or text that came
// from the caller (messages, reasoning, tool schemas and arguments).
struct PromptSegment {
  std::string text;
  bool control = false;
};

struct EncodedPrompt {
  std::string text;                     // the whole prompt
  std::vector<PromptSegment> segments;  // the same text, split by origin
  // The prompt ends with "<think>": generated text starts as reasoning (parser state).
  bool starts_in_reasoning = false;
};

// Renders `request`. Fails on malformed input (unknown role, bad effort value, ...).
Result<EncodedPrompt> EncodeChat(const ChatRequest& request,
                                 const ChatEncoderOptions& options = {});

// Token ids of a prompt. With `match_special_in_content` (the reference's behaviour) added
// tokens inside message text become control tokens; without it, caller text is tokenized
// as plain text (chat-format §1.5 prompt-injection policy) and only the encoder's own
// format text yields control tokens.
std::vector<int32_t> TokenizePrompt(const Tokenizer& tokenizer, const EncodedPrompt& prompt,
                                    bool match_special_in_content = true);

}  // namespace dsv4::tokenizer
