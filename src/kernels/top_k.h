// Top-k selection over a stream of scores without sorting them all (spec §6.7 step 5):
// the k best (score descending, ties to the lower index, as the reference's stable
// top-k) of scores pushed in increasing index order. Keeps a candidate buffer of at
// most ~2k entries and a threshold (the k-th best so far); a score only enters the
// buffer when it beats the threshold, so the cost is one compare per score.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace dsv4::kernels {

class StreamingTopK {
 public:
  explicit StreamingTopK(int64_t k = 0) { Reset(k); }
  void Reset(int64_t k);
  // Scores of indices idx0 .. idx0 + n - 1; each call's indices above all earlier ones.
  void Push(const float* scores, int64_t n, int32_t idx0);
  // Adds another selector's candidates (any index range) before Finish.
  void Merge(const StreamingTopK& other);
  // The best min(k, pushed) indices, best first.
  void Finish(std::vector<int32_t>* out);

 private:
  void Prune();
  int64_t k_ = 0;
  bool full_ = false;  // the buffer held k candidates after a prune: threshold is valid
  float threshold_ = 0.0f;
  std::vector<std::pair<float, int32_t>> cand_;
};

}  // namespace dsv4::kernels
