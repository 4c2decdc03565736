#include "engine/stop_matcher.h"

#include <algorithm>

namespace dsv4 {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
}

StopMatcher::Result StopMatcher::Push(std::string_view text) {
  Result r;
  held_.append(text);
  // Earliest stop occurrence wins.
  size_t first = std::string::npos;
  for (const std::string& s : stops_) first = std::min(first, held_.find(s));
  if (first != std::string::npos) {
    r.text = held_.substr(0, first);
    r.stopped = true;
    held_.clear();
    return r;
  }
  // Hold back the longest tail that is a proper prefix of some stop string. A stop
  // string starts at a UTF-8 character boundary, so the split never cuts a character.
  size_t keep = 0;
  for (const std::string& s : stops_) {
    for (size_t n = std::min(s.size() - 1, held_.size()); n > keep; --n) {
      if (std::string_view(held_).substr(held_.size() - n) == std::string_view(s).substr(0, n)) {
        keep = n;
        break;
      }
    }
  }
  r.text = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return r;
}

std::string StopMatcher::Finish() {
  std::string out;
  out.swap(held_);
  return out;
}

}  // namespace dsv4
