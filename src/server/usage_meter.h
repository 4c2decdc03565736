// Per-API-key totals for /metrics: requests, tokens and cost from a price table
// (USD per 1M tokens; DeepSeek's launch prices: V4-Flash $0.14 in / $0.28 out, V4-Pro
// $1.70 / $3.40; cache hits at a configurable fraction of the input price). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "server/generation.h"

namespace dsv4::server {

struct Prices {
  double input = 0.14, output = 0.28;  // USD per 1M tokens
  double cache_hit_ratio = 0.1;        // cache-hit input tokens cost input * this
};

// The price of a model name: *-pro and claude-opus* are V4-Pro, everything else V4-Flash.
Prices PricesFor(const std::string& model, double cache_hit_ratio = 0.1);
// USD for one request's usage.
double CostUsd(const GenerationUsage& usage, const Prices& prices);

class UsageMeter {
 public:
  explicit UsageMeter(double cache_hit_ratio = 0.1) : cache_hit_ratio_(cache_hit_ratio) {}
  void Record(const std::string& key, const std::string& model, const GenerationUsage& usage);
  // Prometheus text: dsv4_key_{requests,prompt_tokens,cached_tokens,completion_tokens}_total
  // and dsv4_key_cost_usd_total, labelled with the key's last four characters.
  std::string Prometheus() const;
  // Prompt tokens and cached prompt tokens over all keys.
  std::pair<int64_t, int64_t> PromptTotals() const;

 private:
  struct Totals {
    int64_t requests = 0, prompt = 0, cached = 0, completion = 0;
    double cost = 0;
  };
  const double cache_hit_ratio_;
  mutable std::mutex mu_;
  std::map<std::string, Totals> by_key_;
};

}  // namespace dsv4::server
