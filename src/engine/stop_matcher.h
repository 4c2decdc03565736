// Stop strings over streamed text: finds the first occurrence of any stop string in the
// generated text, even across chunk boundaries, and holds back text that might be the
// start of one, so a stop string (and what follows it) is never emitted.
// Not thread-safe: one per request.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dsv4 {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  struct Result {
    std::string text;      // safe to emit now
    bool stopped = false;  // a stop string was found; text ends right before it
  };
  // Appends generated text (valid UTF-8 chunks).
  Result Push(std::string_view text);
  // End of generation: the held-back text.
  std::string Finish();

 private:
  std::vector<std::string> stops_;
  std::string held_;
};

}  // namespace dsv4
