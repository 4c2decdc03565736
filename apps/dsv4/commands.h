// The dsv4 subcommands. Each returns the process exit code and reports errors on stderr.
#pragma once

namespace dsv4::cli {

// The bundled model (a small trained V4, models/README.md): what run, chat and serve load
// without --model (relative to the working directory, as scripts/run.sh starts it).
inline constexpr const char* kDefaultModelDir = "models/dsv4-mini";

int EvalCommand(int argc, char** argv);     // dsv4 eval: logits for acceptance checks
int InspectCommand(int argc, char** argv);  // dsv4 inspect: checkpoint and cost summary
int RunCommand(int argc, char** argv);      // dsv4 run: one streamed generation (text or ids)
int ChatCommand(int argc, char** argv);     // dsv4 chat: interactive multi-turn chat
int TokenizeCommand(int argc, char** argv);  // dsv4 tokenize: text or chat request -> ids
int BenchCommand(int argc, char** argv);     // dsv4 bench: prefill/decode speed vs roofline
int ServeCommand(int argc, char** argv);     // dsv4 serve: the OpenAI/Anthropic API server

}  // namespace dsv4::cli
