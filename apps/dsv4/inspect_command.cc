// dsv4 inspect --model DIR [--json]: config summary, tensors by dtype, layer kinds and
// per-token costs (weight bytes read per decoded token, cache bytes per token of context
// and for one 1,048,576-token sequence).
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "model/forward/costs.h"
#include "model/forward/model.h"

namespace dsv4::cli {

int InspectCommand(int argc, char** argv) {
  Args args(argc, argv, 2, {"json"}, {"model"});
  auto loaded = Model::Load(args.Required("model"));
  if (!loaded.ok()) throw Error(loaded.error());
  const Model& model = *loaded.value();
  const ModelConfig& c = model.config();

  nlohmann::ordered_json j;
  j["model"] = args.Get("model");
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["head_dim"] = c.head_dim;
  j["qk_rope_head_dim"] = c.qk_rope_head_dim;
  j["n_routed_experts"] = c.n_routed_experts;
  j["num_experts_per_tok"] = c.num_experts_per_tok;
  j["num_hash_layers"] = c.num_hash_layers;
  j["num_nextn_predict_layers"] = c.num_nextn_predict_layers;
  j["sliding_window"] = c.sliding_window;
  j["max_position_embeddings"] = c.max_position_embeddings;
  std::vector<std::string> kinds;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    int64_t r = c.CompressRatio(l);
    kinds.push_back(r == 0 ? "window" : r == 4 ? "csa" : "hca");
  }
  j["layer_kinds"] = kinds;
  std::map<std::string, std::pair<int64_t, int64_t>> by_dtype;  // count, bytes
  for (const auto& [name, t] : model.checkpoint().tensors()) {
    auto& e = by_dtype[DTypeName(t->dtype)];
    e.first += 1;
    e.second += int64_t(t->nbytes);
  }
  nlohmann::ordered_json dtypes = nlohmann::ordered_json::object();
  for (const auto& [name, e] : by_dtype) dtypes[name] = {{"tensors", e.first}, {"bytes", e.second}};
  j["tensor_count"] = model.checkpoint().tensors().size();
  j["tensor_bytes"] = model.checkpoint().total_bytes();
  j["dtypes"] = dtypes;
  j["weight_bytes_per_token"] = WeightBytesPerToken(model.checkpoint(), c);
  // Caches as the engine stores them by default (compact: FP8 KV entries, FP4 indexer
  // keys); the engine's memory accounting uses the same KvBytesAt. The bf16 figures
  // apply with --no-act-quant.
  j["kv_entry_bytes"] = KvEntries::EntryBytes(KvStorage::kCompact, c.head_dim, c.qk_rope_head_dim);
  j["index_key_bytes"] = IndexKeys::KeyBytes(KvStorage::kCompact, c.index_head_dim);
  j["kv_bytes_per_token"] = KvBytesPerToken(c);
  j["kv_bytes_at_1m"] = KvBytesAt(c, 1048576);
  j["kv_bytes_per_token_bf16"] = KvBytesPerToken(c, KvStorage::kBf16);
  j["kv_bytes_at_1m_bf16"] = KvBytesAt(c, 1048576, KvStorage::kBf16);

  PrintReport(j, args.Has("json"));
  return 0;
}

}  // namespace dsv4::cli
