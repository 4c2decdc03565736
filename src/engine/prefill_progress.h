// Progress lines for long prompts: a GenerationRequest::on_prefill_progress callback that
// writes "<label>prefill done / total tokens (pct), seconds, tok/s" to stderr. Shared by
// `dsv4 run` (a line per chunk) and the server (throttled, since a 1M-token prompt is
// hundreds of chunks and several requests may prefill at once).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace dsv4 {

// min_interval_s: at most one line per interval, plus always the final chunk's line. A
// prompt that fits in one chunk prints nothing. The callback runs on the engine thread.
std::function<void(int64_t done, int64_t total)> PrefillProgressLogger(std::string label,
                                                                        double min_interval_s);

}  // namespace dsv4
