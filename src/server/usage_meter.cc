#include "server/usage_meter.h"

#include <cstdio>

namespace dsv4::server {

Prices PricesFor(const std::string& model, double cache_hit_ratio) {
  const bool pro = model.find("-pro") != std::string::npos || model.rfind("claude-opus", 0) == 0;
  Prices p;
  if (pro) p = {1.70, 3.40, 0.1};
  p.cache_hit_ratio = cache_hit_ratio;
  return p;
}

double CostUsd(const GenerationUsage& u, const Prices& p) {
  const double miss = double(u.prompt_tokens - u.cached_tokens);
  return (miss * p.input + double(u.cached_tokens) * p.input * p.cache_hit_ratio +
          double(u.completion_tokens) * p.output) / 1e6;
}

void UsageMeter::Record(const std::string& key, const std::string& model,
                        const GenerationUsage& usage) {
  const double cost = CostUsd(usage, PricesFor(model, cache_hit_ratio_));
  std::lock_guard<std::mutex> lock(mu_);
  Totals& t = by_key_[key];
  ++t.requests;
  t.prompt += usage.prompt_tokens;
  t.cached += usage.cached_tokens;
  t.completion += usage.completion_tokens;
  t.cost += cost;
}

std::string UsageMeter::Prometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  auto family = [&](const char* name, auto value) {
    out += std::string("# TYPE ") + name + " counter\n";
    for (const auto& [key, t] : by_key_) {
      // Never the whole key: its last four characters identify it well enough.
      const std::string label = key.empty() ? "none" : "****" + key.substr(key.size() > 4 ? key.size() - 4 : 0);
      char num[64];
      std::snprintf(num, sizeof num, "%.10g", double(value(t)));
      out += std::string(name) + "{key=\"" + label + "\"} " + num + "\n";
    }
  };
  family("dsv4_key_requests_total", [](const Totals& t) { return t.requests; });
  family("dsv4_key_prompt_tokens_total", [](const Totals& t) { return t.prompt; });
  family("dsv4_key_cached_tokens_total", [](const Totals& t) { return t.cached; });
  family("dsv4_key_completion_tokens_total", [](const Totals& t) { return t.completion; });
  family("dsv4_key_cost_usd_total", [](const Totals& t) { return t.cost; });
  return out;
}

}  // namespace dsv4::server

namespace dsv4::server {

std::pair<int64_t, int64_t> UsageMeter::PromptTotals() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t prompt = 0, cached = 0;
  for (const auto& [key, t] : by_key_) {
    prompt += t.prompt;
    cached += t.cached;
  }
  return {prompt, cached};
}

}  // namespace dsv4::server
