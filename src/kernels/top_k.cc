#include "kernels/top_k.h"

#include <algorithm>

namespace dsv4::kernels {
namespace {

// Higher score first; equal scores: lower index first.
inline bool Better(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

}  // namespace

void StreamingTopK::Reset(int64_t k) {
  k_ = k;
  full_ = false;
  threshold_ = 0.0f;
  cand_.clear();
  // Geometric growth: a reused selector whose k rises by one every few positions (early
  // in a context) would otherwise reallocate each time.
  const size_t need = size_t(2 * k + 256);
  if (cand_.capacity() < need) cand_.reserve(std::max(need, 2 * cand_.capacity()));
}

void StreamingTopK::Prune() {
  if (int64_t(cand_.size()) <= k_) return;
  std::nth_element(cand_.begin(), cand_.begin() + (k_ - 1), cand_.end(), Better);
  cand_.resize(size_t(k_));
  // The worst kept candidate: a later index beats it only with a strictly higher score.
  threshold_ = cand_[size_t(k_ - 1)].first;
  full_ = true;
}

void StreamingTopK::Push(const float* scores, int64_t n, int32_t idx0) {
  if (k_ <= 0) return;
  const size_t cap = size_t(2 * k_ + 256);
  int64_t i = 0;
  for (; i < n && !full_; ++i) {  // until k are held, take everything
    cand_.emplace_back(scores[i], idx0 + int32_t(i));
    if (cand_.size() >= cap) Prune();
  }
  for (; i < n; ++i) {
    if (scores[i] > threshold_) {
      cand_.emplace_back(scores[i], idx0 + int32_t(i));
      if (cand_.size() >= cap) Prune();
    }
  }
}

void StreamingTopK::Merge(const StreamingTopK& other) {
  cand_.insert(cand_.end(), other.cand_.begin(), other.cand_.end());
}

void StreamingTopK::Finish(std::vector<int32_t>* out) {
  const size_t k = std::min(cand_.size(), size_t(std::max<int64_t>(k_, 0)));
  std::partial_sort(cand_.begin(), cand_.begin() + int64_t(k), cand_.end(), Better);
  out->resize(k);
  for (size_t i = 0; i < k; ++i) (*out)[i] = cand_[i].second;
}

}  // namespace dsv4::kernels
