// dsv4 run [--model DIR] (-p TEXT | --prompt-tokens LIST) [-n N] [--chat] [--think|--no-think] [--mlock]
//          [--tokenizer PATH] [--temperature T] [--top-p P] [--top-k K] [--min-p P] [--seed S]
// Streams one generation through the engine: text when there is a tokenizer (--chat
// applies the V4 chat template; reasoning is shown dimmed), token ids otherwise. Prompts
// longer than one prefill chunk (--chunk) report progress on stderr; --context caps the
// context below the model's max_position_embeddings.
#include <chrono>
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "engine/prefill_progress.h"
#include "generation_cli.h"
#include "tokenizer/chat_encoder.h"
#include "tokenizer/output_parser.h"

namespace dsv4::cli {

int RunCommand(int argc, char** argv) {
  std::vector<std::string> storage;
  std::vector<char*> av = ExpandShortFlags(argc, argv, &storage);
  std::set<std::string> flags = GenerationFlags(), options = GenerationOptions();
  flags.insert("chat");
  options.insert({"prompt", "prompt-tokens"});
  Args args(argc, av.data(), 2, flags, options);
  Require(args.Has("prompt") != args.Has("prompt-tokens"),
          "give the prompt as -p TEXT or as --prompt-tokens LIST (one of them)");
  Require(!args.Has("chat") || args.Has("prompt"), "--chat needs a text prompt (-p)");
  GenerationSetup g = SetUpGeneration(args, 256);
  const bool thinking = ThinkingRequested(args);

  std::vector<int32_t> prompt;
  bool starts_in_reasoning = false;
  if (args.Has("prompt-tokens")) {
    prompt = ParseTokenList(args.Get("prompt-tokens"));
  } else {
    Require(g.tokenizer.has_value(), "a text prompt needs a tokenizer: " + g.tokenizer_note +
                                         "; or give --prompt-tokens LIST");
    if (args.Has("chat")) {
      tokenizer::ChatRequest chat;
      chat.thinking = thinking;
      chat.messages.push_back({.role = "user", .content = args.Get("prompt")});
      auto encoded = tokenizer::EncodeChat(chat);
      if (!encoded.ok()) throw Error(encoded.error());
      prompt = tokenizer::TokenizePrompt(*g.tokenizer, encoded.value());
      starts_in_reasoning = encoded->starts_in_reasoning;
    } else {
      prompt.push_back(int32_t(g.model->config().bos_token_id));
      g.tokenizer->EncodeAppend(args.Get("prompt"), true, &prompt);
    }
  }
  if (!g.tokenizer) std::fprintf(stderr, "%s: printing token ids\n", g.tokenizer_note.c_str());

  GenerationRequest request;
  request.prompt = prompt;
  request.sampling = g.sampling;
  request.max_tokens = g.max_tokens;
  RequestStream stream;
  request.on_event = stream.Callback();
  auto start = std::chrono::steady_clock::now();
  // Long prompts: prefill progress on stderr, one line per chunk.
  request.on_prefill_progress = PrefillProgressLogger("", 0.0);
  auto id = g.engine->Submit(std::move(request));
  if (!id.ok()) throw Error(id.error());

  tokenizer::OutputParser parser({.starts_in_reasoning = starts_in_reasoning});
  auto show = [&](const tokenizer::ParserDelta& d) {
    std::fputs(Dim(d.reasoning).c_str(), stdout);
    std::fputs(d.content.c_str(), stdout);
    for (const auto& call : d.tool_calls) {
      std::printf("\n[tool call %s %s]\n", call.name.c_str(), call.arguments.c_str());
    }
  };
  StreamEvent e;
  bool first = true;
  do {
    e = stream.Next();
    if (!g.tokenizer) {
      if (e.has_token) std::printf("%s%d", first ? "" : " ", e.token);
      first = false;
    } else if (args.Has("chat")) {
      show(parser.Push(e.text));
    } else {
      std::fputs(e.text.c_str(), stdout);
    }
    std::fflush(stdout);
  } while (e.finish == FinishReason::kNone);
  if (g.tokenizer && args.Has("chat")) show(parser.Finish());
  std::printf("\n");
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "prompt %lld tokens, generated %lld tokens in %.3f s (%.1f tok/s), %s\n",
               (long long)e.usage.prompt_tokens, (long long)e.usage.completion_tokens, secs,
               double(e.usage.completion_tokens) / secs, FinishReasonName(e.finish));
  if (e.finish == FinishReason::kError) throw Error(e.error);
  return 0;
}

}  // namespace dsv4::cli
