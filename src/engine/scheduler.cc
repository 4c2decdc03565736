#include "engine/scheduler.h"

#include <algorithm>

namespace dsv4 {

void PlanStep(const std::vector<SequenceView>& views, const SchedulerOptions& options,
              std::vector<PlannedChunk>* out) {
  std::vector<PlannedChunk>& plan = *out;
  plan.clear();
  int64_t used = 0;
  for (size_t i = 0; i < views.size(); ++i) {
    if (views[i].decoding && views[i].pending > 0) {
      plan.push_back({i, views[i].pending});
      used += views[i].pending;
    }
  }
  const int64_t chunk = std::max<int64_t>(1, options.prefill_chunk);
  for (size_t i = 0; i < views.size(); ++i) {
    const SequenceView& v = views[i];
    if (v.decoding || v.pending <= 0) continue;
    // A step with no work yet always takes one chunk, whatever the budget.
    int64_t room = plan.empty() ? chunk : std::min(chunk, options.step_tokens - used);
    if (room <= 0) break;
    int64_t n = std::min(v.pending, room);
    if (v.cut_at > v.fed && v.fed + n > v.cut_at) n = v.cut_at - v.fed;
    plan.push_back({i, n});
    used += n;
  }
}

}  // namespace dsv4
