// dsv4 run --model DIR --prompt-tokens LIST [--max-tokens N] [--no-act-quant]
// Greedy generation of token ids (the tokenizer and sampling come with the engine).
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "model/forward/model.h"

namespace dsv4::cli {

int RunCommand(int argc, char** argv) {
  Args args(argc, argv, 2, {"no-act-quant"}, {"model", "prompt-tokens", "max-tokens"});
  auto loaded = Model::Load(args.Required("model"));
  if (!loaded.ok()) throw Error(loaded.error());
  const Model& model = *loaded.value();
  const int64_t V = model.config().vocab_size;
  std::vector<int32_t> tokens = ParseTokenList(args.Get("prompt-tokens", "0"));
  Require(!tokens.empty(), "--prompt-tokens is empty");
  const int64_t max_tokens = args.GetInt("max-tokens", 32);
  ForwardOptions options;
  options.act_quant = !args.Has("no-act-quant");

  auto state = model.NewState(false);
  auto start = std::chrono::steady_clock::now();
  std::vector<int32_t> next = tokens;
  std::vector<int32_t> generated;
  for (int64_t i = 0; i < max_tokens; ++i) {
    std::vector<float> logits;
    std::vector<ForwardSegment> segs(1);
    segs[0].state = state.get();
    segs[0].tokens = next;
    segs[0].logits = &logits;
    model.Forward(segs, options);
    int32_t best = int32_t(std::max_element(logits.begin(), logits.begin() + V) - logits.begin());
    generated.push_back(best);
    std::printf("%d%s", best, i + 1 < max_tokens ? " " : "\n");
    std::fflush(stdout);
    if (best == model.config().eos_token_id) break;
    next = {best};
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "prompt %zu tokens, generated %zu tokens in %.3f s (%.1f tok/s)\n",
               tokens.size(), generated.size(), secs, double(generated.size()) / secs);
  return 0;
}

}  // namespace dsv4::cli
