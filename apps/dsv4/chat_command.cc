// dsv4 chat [--model DIR] [--tokenizer PATH] [--think|--no-think] [-n N] [--mlock] [sampling flags]
// Interactive multi-turn chat in the terminal: the V4 chat template over the whole
// conversation (earlier turns' reasoning dropped, as DeepSeek does), reasoning shown
// dimmed, Ctrl-C stops the current generation (not the program), Ctrl-D or /exit quits.
// Each turn's prompt extends the previous one, so the engine's prefix cache (on here)
// skips re-reading the conversation.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <iostream>

#include "args.h"
#include "commands.h"
#include "generation_cli.h"
#include "tokenizer/chat_encoder.h"
#include "tokenizer/output_parser.h"

namespace dsv4::cli {
namespace {

std::atomic<bool> g_interrupted{false};

void OnInterrupt(int) { g_interrupted = true; }

}  // namespace

int ChatCommand(int argc, char** argv) {
  std::vector<std::string> storage;
  std::vector<char*> av = ExpandShortFlags(argc, argv, &storage);
  std::set<std::string> options = GenerationOptions();
  options.insert("system");
  Args args(argc, av.data(), 2, GenerationFlags(), options);
  GenerationSetup g = SetUpGeneration(args, 4096, int64_t(1) << 30);
  Require(g.tokenizer.has_value(), "dsv4 chat needs a tokenizer: " + g.tokenizer_note);

  // SIGINT without SA_RESTART: it interrupts a blocking read of the next line, too.
  struct sigaction sa = {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);

  tokenizer::ChatRequest chat;
  chat.thinking = ThinkingRequested(args);
  if (args.Has("system")) chat.messages.push_back({.role = "system", .content = args.Get("system")});
  std::fprintf(stderr, "dsv4 chat: Ctrl-C stops a reply, Ctrl-D or /exit quits.\n");
  for (;;) {
    std::printf("\n> ");
    std::fflush(stdout);
    std::string line;
    g_interrupted = false;
    if (!std::getline(std::cin, line)) {
      if (g_interrupted) {  // Ctrl-C at the prompt: a fresh prompt
        std::cin.clear();
        continue;
      }
      break;  // Ctrl-D
    }
    if (line == "/exit" || line == "/quit") break;
    if (line.empty()) continue;
    chat.messages.push_back({.role = "user", .content = line});
    auto encoded = tokenizer::EncodeChat(chat);
    if (!encoded.ok()) {
      std::fprintf(stderr, "error: %s\n", encoded.error().c_str());
      chat.messages.pop_back();
      continue;
    }
    GenerationRequest request;
    request.prompt = tokenizer::TokenizePrompt(*g.tokenizer, encoded.value());
    request.sampling = g.sampling;
    request.max_tokens = g.max_tokens;
    RequestStream stream;
    request.on_event = stream.Callback();
    auto id = g.engine->Submit(std::move(request));
    if (!id.ok()) {
      std::fprintf(stderr, "error: %s\n", id.error().c_str());
      chat.messages.pop_back();
      continue;
    }
    tokenizer::OutputParser parser({.starts_in_reasoning = encoded->starts_in_reasoning});
    auto show = [&](const tokenizer::ParserDelta& d) {
      std::fputs(Dim(d.reasoning).c_str(), stdout);
      std::fputs(d.content.c_str(), stdout);
      std::fflush(stdout);
    };
    bool cancel_sent = false;
    StreamEvent e;
    do {
      e = stream.Next();
      if (g_interrupted && !cancel_sent) {
        g.engine->Cancel(id.value());
        cancel_sent = true;
      }
      show(parser.Push(e.text));
    } while (e.finish == FinishReason::kNone);
    show(parser.Finish());
    if (e.finish == FinishReason::kCancelled) std::printf(" [stopped]");
    if (e.finish == FinishReason::kError) std::fprintf(stderr, "\nerror: %s", e.error.c_str());
    std::printf("\n");
    std::fprintf(stderr, "[%lld prompt tokens, %lld cached, %lld generated]\n",
                 (long long)e.usage.prompt_tokens, (long long)e.usage.cached_tokens,
                 (long long)e.usage.completion_tokens);
    const tokenizer::ParsedOutput& out = parser.result();
    tokenizer::ChatMessage reply{.role = "assistant", .content = out.content};
    reply.reasoning_content = out.reasoning;
    chat.messages.push_back(std::move(reply));
  }
  std::printf("\n");
  return 0;
}

}  // namespace dsv4::cli
