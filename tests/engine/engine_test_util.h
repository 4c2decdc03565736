// Shared helpers of the engine tests: the bundled model, deterministic prompts, and
// running one request alone.
#pragma once

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "model/forward/model.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

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

// A byte-level tokenizer.json that fits the bundled model's 2048-token vocabulary: the
// 256 bytes at ids 2..257 (no merges), BOS 0, EOS 1 and the V4 chat-format added tokens.
inline std::string WriteTinyTokenizer(const std::string& path) {
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (int b = 0; b < 256; ++b) {
    vocab[tokenizer::BytesToByteLevel(std::string(1, char(b)))] = b + 2;
  }
  const std::vector<std::string> added = {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>",
                                          "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>"};
  nlohmann::ordered_json added_json = nlohmann::ordered_json::array();
  for (size_t i = 0; i < added.size(); ++i) {
    const int id = i < 2 ? int(i) : int(256 + i);
    added_json.push_back({{"id", id}, {"content", added[i]}, {"special", true}});
  }
  nlohmann::ordered_json root = {
      {"added_tokens", added_json},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::ordered_json::array()}}}};
  std::ofstream(path) << root.dump();
  return path;
}

inline bool BitIdentical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace dsv4::testing
