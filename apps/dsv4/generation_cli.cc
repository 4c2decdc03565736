#include "generation_cli.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "kernels/precision.h"
#include "model_load.h"

namespace dsv4::cli {

std::set<std::string> GenerationFlags() { return {"no-act-quant", "think", "no-think", "mlock"}; }

std::set<std::string> GenerationOptions() {
  return {"model",   "tokenizer", "max-tokens", "temperature", "top-p",
          "top-k",   "min-p",     "seed",       "chunk",       "context"};
}

std::vector<char*> ExpandShortFlags(int argc, char** argv, std::vector<std::string>* storage) {
  storage->clear();
  storage->reserve(size_t(argc));
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-p") a = "--prompt";
    if (a == "-n") a = "--max-tokens";
    storage->push_back(a);
  }
  std::vector<char*> out;
  for (std::string& s : *storage) out.push_back(s.data());
  return out;
}

namespace {

double GetDouble(const Args& args, const std::string& name, double fallback) {
  if (!args.Has(name)) return fallback;
  try {
    return std::stod(args.Get(name));
  } catch (...) {
    throw Error("option --" + name + " expects a number, got '" + args.Get(name) + "'");
  }
}

}  // namespace

GenerationSetup SetUpGeneration(const Args& args, int64_t default_max_tokens,
                                int64_t prefix_cache_bytes) {
  GenerationSetup g;
  const std::string dir = args.Get("model", kDefaultModelDir);
  g.model = LoadCommandModel(dir, args);

  std::string tok_path = args.Get("tokenizer");
  if (tok_path.empty() && std::filesystem::exists(dir + "/tokenizer.json")) {
    tok_path = dir + "/tokenizer.json";
  }
  if (!tok_path.empty()) {
    auto tok = tokenizer::Tokenizer::FromFile(tok_path);
    if (!tok.ok()) throw Error("tokenizer: " + tok.error());
    Require(tok->vocab_size() <= g.model->config().vocab_size,
            "the tokenizer's vocabulary (" + std::to_string(tok->vocab_size()) +
                ") is larger than the model's (" + std::to_string(g.model->config().vocab_size) + ")");
    g.tokenizer.emplace(std::move(tok.value()));
  } else {
    g.tokenizer_note = "no tokenizer.json in " + dir + " (pass --tokenizer PATH)";
  }

  g.sampling.temperature = GetDouble(args, "temperature", 1.0);
  g.sampling.top_p = GetDouble(args, "top-p", 1.0);
  g.sampling.top_k = args.GetInt("top-k", 0);
  g.sampling.min_p = GetDouble(args, "min-p", 0.0);
  if (args.Has("seed")) g.sampling.seed = uint64_t(args.GetInt("seed", 0));
  Status s = ValidateSamplingParams(g.sampling, g.model->config().vocab_size);
  if (!s.ok()) throw Error(s.message());
  g.max_tokens = args.GetInt("max-tokens", default_max_tokens);

  EngineOptions options;
  options.forward.act_quant = !args.Has("no-act-quant");
  options.scheduler.prefill_chunk = args.GetInt("chunk", options.scheduler.prefill_chunk);
  options.context_length = args.GetInt("context", 0);
  options.max_running = 1;
  options.prefix_cache.budget_bytes = prefix_cache_bytes;
  g.engine = std::make_unique<Engine>(*g.model, g.tokenizer ? &*g.tokenizer : nullptr, options);
  g.engine->Start();
  return g;
}

bool ThinkingRequested(const Args& args) {
  Require(!(args.Has("think") && args.Has("no-think")), "--think and --no-think together");
  return !args.Has("no-think");
}

std::string Dim(const std::string& text) {
  static const bool tty = isatty(STDOUT_FILENO);
  if (!tty || text.empty()) return text;
  return "\033[2m" + text + "\033[0m";
}

}  // namespace dsv4::cli
