// dsv4: one binary, subcommands.
#include <cstdio>
#include <cstring>
#include <exception>

#include "commands.h"
#include "core/status.h"

namespace {

void Usage() {
  std::fprintf(stderr,
               "usage: dsv4 <command> [options]\n"
               "  eval     logits of a token sequence (prefill + decode), or of the MTP head\n"
               "  inspect  checkpoint summary and per-token costs\n"
               "  run      one streamed generation: -p TEXT [--chat] or --prompt-tokens LIST\n"
               "  chat     interactive multi-turn chat in the terminal\n"
               "  serve    the OpenAI / Anthropic compatible API server (HTTP)\n"
               "  tokenize text or an OpenAI chat request -> token ids (tokenizer, chat encoder)\n"
               "  bench    prefill/decode throughput vs the measured bandwidth and FMA roofline\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    Usage();
    return argc < 2 ? 2 : 0;
  }
  try {
    if (std::strcmp(argv[1], "eval") == 0) return dsv4::cli::EvalCommand(argc, argv);
    if (std::strcmp(argv[1], "inspect") == 0) return dsv4::cli::InspectCommand(argc, argv);
    if (std::strcmp(argv[1], "run") == 0) return dsv4::cli::RunCommand(argc, argv);
    if (std::strcmp(argv[1], "chat") == 0) return dsv4::cli::ChatCommand(argc, argv);
    if (std::strcmp(argv[1], "tokenize") == 0) return dsv4::cli::TokenizeCommand(argc, argv);
    if (std::strcmp(argv[1], "bench") == 0) return dsv4::cli::BenchCommand(argc, argv);
    if (std::strcmp(argv[1], "serve") == 0) return dsv4::cli::ServeCommand(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dsv4 %s: error: %s\n", argv[1], e.what());
    return 1;
  }
  std::fprintf(stderr, "dsv4: unknown command '%s'\n", argv[1]);
  Usage();
  return 2;
}
