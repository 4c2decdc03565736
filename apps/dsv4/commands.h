// The dsv4 subcommands. Each returns the process exit code and reports errors on stderr.
#pragma once

namespace dsv4::cli {

int EvalCommand(int argc, char** argv);     // dsv4 eval: logits for acceptance checks
int InspectCommand(int argc, char** argv);  // dsv4 inspect: checkpoint and cost summary
int RunCommand(int argc, char** argv);      // dsv4 run: greedy generation of token ids
int TokenizeCommand(int argc, char** argv);  // dsv4 tokenize: text or chat request -> ids

}  // namespace dsv4::cli
