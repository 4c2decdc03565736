// dsv4 serve --model DIR [--tokenizer PATH] [--host 127.0.0.1] [--port 8000] [--api-key K[,K2]]
//            [--api-key-file PATH] [--served-model-name N[,N2]] [--max-body-mb 32]
//            [--prefix-cache-mb 512] [--max-running 16] [--context N] [--port-file PATH]
//            [--max-concurrent-per-key 64] [--shutdown-grace 30] [--cache-hit-price-ratio 0.1]
//            [--max-context N (= --context)] [--max-queue 64] [--allow-missing-reasoning]
//            [--log-bodies] [--mlock]
// The OpenAI / Anthropic compatible API server. SIGTERM or SIGINT stops accepting
// connections and lets in-flight requests finish (cancelling them after
// --shutdown-grace seconds, or at a second signal).
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "args.h"
#include "commands.h"
#include "engine/engine.h"
#include "model_load.h"
#include "server/api_server.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::cli {
namespace {

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool IsLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

int ServeCommand(int argc, char** argv) {
  // Signals are taken by a watcher thread (sigwait), so block them before any thread
  // starts: every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Args args(argc, argv, 2, {"no-act-quant", "allow-missing-reasoning", "log-bodies", "mlock"},
            {"model", "tokenizer", "host", "port", "api-key", "api-key-file",
             "served-model-name", "max-body-mb", "prefix-cache-mb", "max-running", "context",
             "port-file", "shutdown-grace", "max-concurrent-per-key",
             "cache-hit-price-ratio", "max-context", "max-queue"});
  server::ServerOptions options;
  options.host = args.Get("host", "127.0.0.1");
  options.port = int(args.GetInt("port", 8000));
  options.api_keys = SplitList(args.Get("api-key"));
  if (args.Has("api-key-file")) {
    std::ifstream in(args.Get("api-key-file"));
    Require(bool(in), "cannot read --api-key-file " + args.Get("api-key-file"));
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line[0] != '#') options.api_keys.push_back(line);
    }
  }
  Require(!options.api_keys.empty() || IsLoopback(options.host),
          "no API key configured: the server only listens on loopback without one "
          "(pass --api-key or --api-key-file, or --host 127.0.0.1)");
  if (options.api_keys.empty()) {
    std::fprintf(stderr, "warning: no API key configured; anyone on this machine can use it\n");
  }
  options.served_model_names = SplitList(args.Get("served-model-name"));
  options.max_body_bytes = size_t(args.GetInt("max-body-mb", 32)) << 20;
  if (args.Has("cache-hit-price-ratio")) {
    options.cache_hit_price_ratio = std::stod(args.Get("cache-hit-price-ratio"));
  }
  options.strict_reasoning_replay = !args.Has("allow-missing-reasoning");
  options.log_bodies = args.Has("log-bodies");
  options.max_concurrent_per_key =
      args.GetInt("max-concurrent-per-key", options.max_concurrent_per_key);

  const std::string dir = args.Get("model", kDefaultModelDir);
  const std::unique_ptr<Model> model = LoadCommandModel(dir, args);
  std::string tok_path = args.Get("tokenizer");
  if (tok_path.empty()) tok_path = dir + "/tokenizer.json";
  Require(std::filesystem::exists(tok_path),
          "the server needs a tokenizer: no " + tok_path + " (pass --tokenizer PATH)");
  auto tok = tokenizer::Tokenizer::FromFile(tok_path);
  if (!tok.ok()) throw Error("tokenizer: " + tok.error());
  Require(tok->vocab_size() <= model->config().vocab_size,
          "the tokenizer's vocabulary is larger than the model's");

  EngineOptions engine_options;
  engine_options.forward.act_quant = !args.Has("no-act-quant");
  engine_options.max_running = args.GetInt("max-running", engine_options.max_running);
  // Requests waiting for a batch slot; beyond it new ones get 503 (retry later).
  engine_options.max_queue = args.GetInt("max-queue", engine_options.max_queue);
  // Prompt + output tokens per request; default and upper bound: the model's
  // max_position_embeddings. /v1/models advertises it; longer prompts get a 400.
  engine_options.context_length = args.GetInt("max-context", args.GetInt("context", 0));
  engine_options.prefix_cache.budget_bytes = args.GetInt("prefix-cache-mb", 512) << 20;
  Engine engine(*model, &tok.value(), engine_options);
  engine.Start();

  server::ApiServer api(engine, tok.value(), options);
  const int port = api.Bind();
  std::fprintf(stderr, "dsv4 serve: listening on http://%s:%d (model %s)\n",
               options.host.c_str(), port, dir.c_str());
  if (args.Has("port-file")) {
    // Written after binding (a test that reads it can connect at once) and after the
    // "listening" line (which is already in the log pipe when the file appears).
    const std::string path = args.Get("port-file");
    std::ofstream(path + ".tmp") << port << "\n";
    std::filesystem::rename(path + ".tmp", path);
  }

  std::atomic<bool> serving{true};
  const int64_t grace_s = args.GetInt("shutdown-grace", 30);
  std::thread watcher([&] {
    const timespec tick{0, 100'000'000};
    auto wait_signal = [&] {
      while (serving) {
        if (sigtimedwait(&signals, nullptr, &tick) > 0) return true;
      }
      return false;
    };
    if (!wait_signal()) return;
    std::fprintf(stderr, "dsv4 serve: shutting down (in-flight requests finish)\n");
    api.Stop();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(grace_s);
    while (serving && std::chrono::steady_clock::now() < deadline) {
      if (sigtimedwait(&signals, nullptr, &tick) > 0) break;  // a second signal: now
    }
    if (serving) engine.Stop();  // ends every unfinished request as cancelled
  });
  api.Serve();
  serving = false;
  watcher.join();
  engine.Stop();
  std::fprintf(stderr, "dsv4 serve: stopped\n");
  return 0;
}

}  // namespace dsv4::cli
