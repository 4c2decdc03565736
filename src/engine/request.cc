#include "engine/request.h"

namespace dsv4 {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone: return "none";
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kError: return "error";
  }
  return "?";
}

EventCallback RequestStream::Callback() {
  return [this](const StreamEvent& e) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(e);
    cv_.notify_all();
  };
}

StreamEvent RequestStream::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  if (finished_ && events_.empty()) return final_;
  cv_.wait(lock, [&] { return !events_.empty(); });
  StreamEvent e = std::move(events_.front());
  events_.pop_front();
  if (e.finish != FinishReason::kNone) {
    finished_ = true;
    final_ = e;
  }
  return e;
}

RequestStream::Collected RequestStream::Collect() {
  Collected out;
  for (;;) {
    StreamEvent e = Next();
    if (e.has_token) {
      out.tokens.push_back(e.token);
      out.logprobs.push_back(e.logprob);
      if (!e.logits.empty()) out.logits.push_back(std::move(e.logits));
    }
    out.text += e.text;
    if (e.finish != FinishReason::kNone) {
      out.finish = e.finish;
      out.error = e.error;
      out.usage = e.usage;
      return out;
    }
  }
}

}  // namespace dsv4
