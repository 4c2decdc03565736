// Server-side figures for /metrics (Prometheus text format) beside the engine's gauges:
// request latency histograms per route, generation throughput (tokens/s over the last
// minute), queue depth, and prefix-cache hit ratios. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine.h"

namespace dsv4::server {

class ServerMetrics {
 public:
  // One finished HTTP request: its route (path), status and wall time.
  void ObserveRequest(const std::string& route, int status, double seconds);
  // Everything: histograms, request counts by status, throughput from `engine` samples,
  // queue depth and cache ratios. `cached` / `prompt`: token totals over all keys.
  std::string Prometheus(const EngineStats& engine, int64_t prompt_tokens, int64_t cached_tokens);

 private:
  struct Histogram {
    std::vector<int64_t> counts;  // per bucket (cumulative when printed)
    double sum = 0;
    int64_t count = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, Histogram> latency_;                  // route -> histogram
  std::map<std::pair<std::string, int>, int64_t> requests_;   // (route, status) -> count
  // (time, generated tokens) samples taken at each scrape, for tokens/s.
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> samples_;
};

}  // namespace dsv4::server
