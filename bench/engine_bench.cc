// Aggregate decode throughput of the engine at 1, 4 and 16 concurrent streams: every step
// decodes one token of each stream in one Model::Forward call, so weights are read once
// per step for all streams. Model: $DSV4_BENCH_MODEL, else the cached checkpoint with
// V4-Flash's layer shapes and dtypes (2 layers, 256 experts; generated on first use).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "engine/engine.h"
#include "model/forward/model.h"
#include "model/synthetic_checkpoint.h"

namespace {

const dsv4::Model& BenchModel() {
  static std::unique_ptr<dsv4::Model> model = [] {
    const char* env = std::getenv("DSV4_BENCH_MODEL");
    const std::string dir = env ? env : dsv4::EnsureFlashShapedCheckpoint("", 2);
    auto m = dsv4::Model::Load(dir);
    if (!m.ok()) throw dsv4::Error(m.error());
    return std::move(m.value());
  }();
  return *model;
}

void BM_EngineDecode(benchmark::State& state) {
  const int64_t streams = state.range(0);
  const dsv4::Model& model = BenchModel();
  dsv4::EngineOptions options;
  options.max_running = streams;
  dsv4::Engine engine(model, nullptr, options);
  for (int64_t s = 0; s < streams; ++s) {
    dsv4::GenerationRequest r;
    for (int i = 0; i < 32; ++i) r.prompt.push_back(int32_t(2 + (s * 131 + i * 7) % 1000));
    r.max_tokens = 1 << 20;
    r.ignore_eos = true;
    r.sampling.temperature = 0;
    if (!engine.Submit(std::move(r)).ok()) state.SkipWithError("submit failed");
  }
  engine.Step();  // prefill (32 tokens per stream) and the first token: not timed
  for (auto _ : state) engine.Step();  // one decode token for every stream
  state.counters["tok/s"] =
      benchmark::Counter(double(streams) * double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["streams"] = double(streams);
}
BENCHMARK(BM_EngineDecode)->Arg(1)->Arg(4)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
