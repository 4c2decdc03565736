#include "server/server_metrics.h"

#include <cstdio>

namespace dsv4::server {
namespace {

// Latency buckets (seconds): from a cached short answer to a long generation.
const std::vector<double> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                                      30, 60, 120, 300};

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

}  // namespace

void ServerMetrics::ObserveRequest(const std::string& route, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  Histogram& h = latency_[route];
  if (h.counts.empty()) h.counts.assign(kBuckets.size(), 0);
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++h.counts[i];
      break;
    }
  }
  h.sum += seconds;
  ++h.count;
  ++requests_[{route, status}];
}

std::string ServerMetrics::Prometheus(const EngineStats& engine, int64_t prompt_tokens,
                                      int64_t cached_tokens) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out += "# TYPE dsv4_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += "dsv4_http_requests_total{route=\"" + key.first + "\",status=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  }
  out += "# TYPE dsv4_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    int64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += h.counts[i];
      out += "dsv4_request_duration_seconds_bucket{route=\"" + route + "\",le=\"" +
             Num(kBuckets[i]) + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += "dsv4_request_duration_seconds_bucket{route=\"" + route + "\",le=\"+Inf\"} " +
           std::to_string(h.count) + "\n";
    out += "dsv4_request_duration_seconds_sum{route=\"" + route + "\"} " + Num(h.sum) + "\n";
    out += "dsv4_request_duration_seconds_count{route=\"" + route + "\"} " +
           std::to_string(h.count) + "\n";
  }
  // Throughput over the last minute of scrapes (0 until two samples exist).
  samples_.emplace_back(now, engine.generated_tokens);
  while (samples_.size() > 2 && now - samples_[1].first > std::chrono::seconds(60)) {
    samples_.pop_front();
  }
  double rate = 0;
  const double span = std::chrono::duration<double>(now - samples_.front().first).count();
  if (samples_.size() >= 2 && span > 0) {
    rate = double(engine.generated_tokens - samples_.front().second) / span;
  }
  out += "# TYPE dsv4_generation_tokens_per_second gauge\ndsv4_generation_tokens_per_second " +
         Num(rate) + "\n";
  out += "# TYPE dsv4_queue_depth gauge\ndsv4_queue_depth " + std::to_string(engine.waiting) + "\n";
  const auto& pc = engine.prefix_cache;
  out += "# TYPE dsv4_prefix_cache_hit_ratio gauge\ndsv4_prefix_cache_hit_ratio " +
         Num(pc.lookups > 0 ? double(pc.hits) / double(pc.lookups) : 0.0) + "\n";
  out += "# TYPE dsv4_prompt_cached_token_ratio gauge\ndsv4_prompt_cached_token_ratio " +
         Num(prompt_tokens > 0 ? double(cached_tokens) / double(prompt_tokens) : 0.0) + "\n";
  return out;
}

}  // namespace dsv4::server
