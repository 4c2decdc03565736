// Shared helpers of the engine tests: the bundled model, deterministic prompts, and
// running one request alone.
#pragma once

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "model/forward/model.h"

namespace dsv4::testing {

inline const Model& TinyModel() {
  static std::unique_ptr<Model> model = [] {
    auto m = Model::Load(std::string(DSV4_SOURCE_DIR) + "/models/tiny-random");
    if (!m.ok()) throw Error(m.error());
    return std::move(m.value());
  }();
  return *model;
}

inline std::vector<int32_t> Prompt(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> p(n);
  for (auto& t : p) t = int32_t(2 + rng() % 2000);  // avoid BOS/EOS
  return p;
}

inline GenerationRequest Greedy(std::vector<int32_t> prompt, int64_t max_tokens) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  r.ignore_eos = true;
  r.return_logits = true;
  return r;
}

// The request alone in a fresh engine with the default (large) chunk.
inline RequestStream::Collected RunAlone(GenerationRequest r, EngineOptions options = {}) {
  Engine engine(TinyModel(), nullptr, options);
  RequestStream stream;
  r.on_event = stream.Callback();
  auto id = engine.Submit(std::move(r));
  if (!id.ok()) throw Error(id.error());
  engine.RunUntilIdle();
  return stream.Collect();
}

inline bool BitIdentical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace dsv4::testing
