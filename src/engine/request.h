// What crosses into the engine: a generation request (token ids + options), and what
// comes back: a stream of events, one per generated token, the last carrying the finish
// reason and usage. Only these plain types cross the engine boundary.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/sampler.h"
#include "engine/sampling_params.h"
#include "engine/token_constraint.h"

namespace dsv4 {

enum class FinishReason {
  kNone,       // not finished (an intermediate event)
  kStop,       // EOS, a stop token id or a stop string
  kLength,     // max_tokens or the context limit
  kCancelled,  // Engine::Cancel, or the engine shut down
  kError,      // see StreamEvent::error
};
const char* FinishReasonName(FinishReason reason);  // "stop", "length", ...

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;  // prompt tokens whose state came from the prefix cache
  int64_t completion_tokens = 0;
};

struct StreamEvent {
  uint64_t request_id = 0;
  bool has_token = false;  // false only for a final event without a new token
  int32_t token = 0;
  // Text that became final with this token (needs a tokenizer; empty otherwise). Stop
  // strings and the text after them are never sent; text that may start a stop string
  // is held back until it cannot.
  std::string text;
  float logprob = 0.0f;                    // when sampling.logprobs
  std::vector<TokenLogprob> top_logprobs;  // when sampling.top_logprobs > 0
  std::vector<float> logits;               // [vocab] when return_logits (raw model logits)
  FinishReason finish = FinishReason::kNone;
  std::string error;  // kError: what went wrong
  Usage usage;        // on the final event
};

// Called on the engine thread, in order, for each event of one request. Must be quick
// and must not call Engine methods other than Cancel.
using EventCallback = std::function<void(const StreamEvent&)>;

struct GenerationRequest {
  std::vector<int32_t> prompt;  // token ids, at least one
  SamplingParams sampling;
  int64_t max_tokens = -1;  // new tokens; -1 = up to the context limit
  std::vector<std::string> stop;          // stop strings (need the engine's tokenizer)
  std::vector<int32_t> stop_token_ids;    // besides EOS
  bool ignore_eos = false;
  bool return_logits = false;     // diagnostics/tests: the logits row behind each token
  bool use_prefix_cache = true;   // look up and store prefix snapshots
  // Constrained decoding (optional): only tokens it allows are sampled, and the request
  // finishes (stop) when it reports the output complete.
  std::shared_ptr<TokenConstraint> constraint;
  EventCallback on_event;
  // Prefill progress: (prompt tokens processed so far, prompt length) after each prefill
  // chunk, a prefix-cache hit counting as processed. Called on the engine thread (keep it
  // short: log a line). For long prompts (dsv4 run prints it; the server can log it).
  std::function<void(int64_t done, int64_t total)> on_prefill_progress;
};

// A thread-safe queue of one request's events, for callers that want to block on them
// (CLI, tests, the HTTP handler thread). Its Callback() feeds it from the engine thread.
class RequestStream {
 public:
  EventCallback Callback();
  // Blocks for the next event; after the final one, returns it again.
  StreamEvent Next();

  // Blocks until the final event; everything the request produced.
  struct Collected {
    std::vector<int32_t> tokens;
    std::string text;
    std::vector<std::vector<float>> logits;
    std::vector<float> logprobs;
    FinishReason finish = FinishReason::kNone;
    std::string error;
    Usage usage;
  };
  Collected Collect();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StreamEvent> events_;
  StreamEvent final_;
  bool finished_ = false;
};

}  // namespace dsv4
