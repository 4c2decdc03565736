#include "engine/engine.h"

#include <algorithm>
#include <exception>
#include <new>
#include <optional>

#include "engine/state_bytes.h"
#include "engine/stop_matcher.h"
#include "tokenizer/incremental_decoder.h"

namespace dsv4 {

struct Engine::Sequence {
  uint64_t id = 0;
  GenerationRequest req;
  std::unique_ptr<SequenceState> state;
  std::vector<int32_t> tokens;  // prompt, then generated
  int64_t prompt_len = 0;
  int64_t cached = 0;           // prompt tokens restored from the prefix cache
  int64_t max_new = 0;
  int64_t generated = 0;
  int64_t reserved = 0;         // bytes reserved against the memory budget
  std::optional<Sampler> sampler;
  std::unique_ptr<tokenizer::IncrementalDecoder> decoder;
  std::unique_ptr<StopMatcher> stops;
  std::unique_ptr<SequenceState> pending_snapshot;  // last block boundary of the output
  bool admitted = false;        // its reservation is counted in reserved_bytes_
  bool done = false;

  int64_t fed() const { return state ? state->length() : 0; }
};

Engine::Engine(const Model& model, const tokenizer::Tokenizer* tokenizer, EngineOptions options)
    : model_(model), tokenizer_(tokenizer), options_(std::move(options)) {
  const int64_t max_pos = model_.config().max_position_embeddings;
  context_length_ = options_.context_length > 0 ? std::min(options_.context_length, max_pos)
                                                : max_pos;
  options_.prefix_cache.storage = KvStorageFor(options_.forward.act_quant);
  if (options_.prefix_cache.budget_bytes > 0) {
    prefix_cache_ = std::make_unique<PrefixCache>(model_.config(), ModelIdentity(model_),
                                                  options_.prefix_cache);
    Status s = prefix_cache_->Load();
    if (!s.ok()) throw Error("prefix cache: " + s.message());
    stats_.prefix_cache = prefix_cache_->stats();
  }
}

Engine::~Engine() {
  Stop();
  Shutdown();
}

Result<uint64_t> Engine::Submit(GenerationRequest request) {
  const ModelConfig& c = model_.config();
  const int64_t n = int64_t(request.prompt.size());
  if (n == 0) return Result<uint64_t>::Fail("the prompt is empty");
  for (int32_t t : request.prompt) {
    if (t < 0 || t >= c.vocab_size) {
      return Result<uint64_t>::Fail("prompt token id " + std::to_string(t) +
                                    " is outside the vocabulary (0.." +
                                    std::to_string(c.vocab_size - 1) + ")");
    }
  }
  if (n >= context_length_) {
    return Result<uint64_t>::Fail(
        "the prompt is " + std::to_string(n) + " tokens, over this model's context limit of " +
        std::to_string(context_length_) + " tokens (prompt + generated)");
  }
  if (request.max_tokens == 0 || request.max_tokens < -1) {
    return Result<uint64_t>::Fail("max_tokens must be >= 1");
  }
  Status s = ValidateSamplingParams(request.sampling, c.vocab_size);
  if (!s.ok()) return s;
  for (int32_t t : request.stop_token_ids) {
    if (t < 0 || t >= c.vocab_size) return Result<uint64_t>::Fail("stop token id out of range");
  }
  if (!request.stop.empty() && !tokenizer_) {
    return Result<uint64_t>::Fail("stop strings need a tokenizer; this engine has none");
  }
  auto seq = std::make_unique<Sequence>();
  seq->prompt_len = n;
  seq->max_new = context_length_ - n;
  if (request.max_tokens > 0) seq->max_new = std::min(seq->max_new, request.max_tokens);
  seq->reserved = EstimateStateBytes(c, n + seq->max_new, KvStorageFor(options_.forward.act_quant));
  if (options_.memory_budget_bytes > 0 && seq->reserved > options_.memory_budget_bytes) {
    return Result<uint64_t>::Fail(
        "this request's cache needs " + std::to_string(seq->reserved >> 20) +
        " MiB (prompt + max_tokens), more than the engine's memory budget of " +
        std::to_string(options_.memory_budget_bytes >> 20) + " MiB; lower max_tokens");
  }
  seq->req = std::move(request);
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_) return Result<uint64_t>::Fail("the engine is shutting down");
  // A request the next step will admit into a free batch slot is not waiting for one, so
  // the free slots count on top of max_queue: a burst that arrives between two engine steps
  // is not turned away while the batch has room (stats_.running counts the admitted ones).
  const int64_t free_slots = std::max<int64_t>(0, options_.max_running - stats_.running);
  if (int64_t(waiting_.size()) >= options_.max_queue + free_slots) {
    return Result<uint64_t>::Fail(
        "overloaded: " + std::to_string(int64_t(waiting_.size()) - free_slots) +
        " requests are already waiting; retry later");
  }
  seq->id = next_id_++;
  const uint64_t id = seq->id;
  waiting_.push_back(std::move(seq));
  stats_.waiting = int64_t(waiting_.size());
  cv_.notify_all();
  return id;
}

void Engine::Cancel(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_.insert(id);
  cv_.notify_all();
}

void Engine::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Engine::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Engine::Loop() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
    }
    if (Step()) continue;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return stop_ || !waiting_.empty() || !cancelled_.empty(); });
  }
  Shutdown();
}

void Engine::Shutdown() {
  std::deque<std::unique_ptr<Sequence>> waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting.swap(waiting_);
  }
  for (auto& seq : waiting) Finish(seq.get(), {}, FinishReason::kCancelled, "engine stopped");
  for (auto& seq : running_) {
    if (!seq->done) Finish(seq.get(), {}, FinishReason::kCancelled, "engine stopped");
  }
  running_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  reserved_bytes_ = 0;
  stats_.running = stats_.waiting = stats_.reserved_bytes = 0;
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void Engine::Intake() {
  std::vector<std::unique_ptr<Sequence>> dropped;
  std::set<uint64_t> cancels;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancels.swap(cancelled_);
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (cancels.count((*it)->id)) {
        dropped.push_back(std::move(*it));
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& seq : dropped) Finish(seq.get(), {}, FinishReason::kCancelled);
  // Cancelled sequences are freed before admitting, so their memory serves others now.
  for (auto& seq : running_) {
    if (cancels.count(seq->id)) Finish(seq.get(), {}, FinishReason::kCancelled);
  }
  std::erase_if(running_, [](const auto& s) { return s->done; });

  std::vector<std::unique_ptr<Sequence>> admitted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!waiting_.empty() &&
           int64_t(running_.size() + admitted.size()) < options_.max_running) {
      Sequence* next = waiting_.front().get();
      if (options_.memory_budget_bytes > 0 &&
          reserved_bytes_ + next->reserved > options_.memory_budget_bytes) {
        break;  // first come, first served: it waits for memory
      }
      reserved_bytes_ += next->reserved;
      next->admitted = true;
      admitted.push_back(std::move(waiting_.front()));
      waiting_.pop_front();
    }
    stats_.waiting = int64_t(waiting_.size());
    stats_.running = int64_t(running_.size() + admitted.size());  // Submit's free slots
    stats_.reserved_bytes = reserved_bytes_;
  }
  for (auto& seq : admitted) {
    Begin(seq.get());
    if (!seq->done) running_.push_back(std::move(seq));
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.running = int64_t(running_.size());
}

void Engine::Begin(Sequence* seq) {
  try {
    seq->state = model_.NewState(false, KvStorageFor(options_.forward.act_quant));
    // Its caches' room up front (address space only): decode steps then append without
    // reallocating or copying a long cache.
    seq->state->Reserve(seq->prompt_len + seq->max_new);
  } catch (const std::bad_alloc&) {
    Finish(seq, {}, FinishReason::kError, "out of memory allocating the sequence state");
    return;
  }
  seq->tokens = seq->req.prompt;
  seq->tokens.reserve(size_t(seq->prompt_len + seq->max_new));  // (4 bytes a token: no growth while decoding)
  if (prefix_cache_ && seq->req.use_prefix_cache) {
    // At least the prompt's last token is fed, for its logits.
    seq->cached = prefix_cache_->Lookup(seq->tokens, seq->prompt_len - 1, seq->state.get());
  }
  seq->sampler.emplace(seq->req.sampling, seq->req.prompt);
  if (tokenizer_) {
    seq->decoder = std::make_unique<tokenizer::IncrementalDecoder>(*tokenizer_);
    seq->stops = std::make_unique<StopMatcher>(seq->req.stop);
  }
}

// The next prompt position where a snapshot is due: every `interval` tokens and the
// prompt's last block boundary; -1 when none is ahead.
int64_t Engine::CutPoint(const Sequence& seq) const {
  if (!prefix_cache_ || !seq.req.use_prefix_cache) return -1;
  const PrefixCacheOptions& o = prefix_cache_->options();
  const int64_t fed = seq.fed();
  const int64_t last = seq.prompt_len / o.block * o.block;
  int64_t cut = last;
  if (o.interval > 0) cut = std::min(cut, (fed / o.interval + 1) * o.interval);
  return cut > fed ? cut : -1;
}

void Engine::MaybeSnapshot(Sequence* seq) {
  if (!prefix_cache_ || !seq->req.use_prefix_cache) return;
  const PrefixCacheOptions& o = prefix_cache_->options();
  const int64_t fed = seq->fed();
  if (fed == 0 || fed % o.block != 0) return;
  if (fed <= seq->prompt_len) {
    const bool due = fed == seq->prompt_len / o.block * o.block ||
                     (o.interval > 0 && fed % o.interval == 0);
    std::span<const int32_t> prefix(seq->tokens.data(), size_t(fed));
    if (due && !prefix_cache_->Contains(prefix)) prefix_cache_->Insert(prefix, *seq->state);
  } else if (o.cache_generated) {
    seq->pending_snapshot = std::make_unique<SequenceState>(*seq->state);
  }
}

bool Engine::Step() {
  Intake();
  if (running_.empty()) return false;
  const int64_t V = model_.config().vocab_size;

  std::vector<SequenceView>& views = step_views_;
  views.resize(running_.size());
  for (size_t i = 0; i < running_.size(); ++i) {
    const Sequence& s = *running_[i];
    views[i].fed = s.fed();
    views[i].pending = int64_t(s.tokens.size()) - s.fed();
    views[i].decoding = s.fed() >= s.prompt_len;
    views[i].cut_at = CutPoint(s);
  }
  std::vector<PlannedChunk>& plan = step_plan_;
  PlanStep(views, options_.scheduler, &plan);
  // Logits rows and segments kept from step to step: each row's vector (517 KB at V4's
  // vocabulary) keeps its capacity, so a decode step's outputs allocate nothing.
  std::vector<std::vector<float>>& logits = step_logits_;
  std::vector<ForwardSegment>& segs = step_segs_;
  if (logits.size() < plan.size()) logits.resize(plan.size());
  segs.resize(plan.size());
  int64_t fed_tokens = 0;
  for (size_t k = 0; k < plan.size(); ++k) {
    Sequence& s = *running_[plan[k].sequence];
    segs[k].state = s.state.get();
    segs[k].tokens.assign(s.tokens.begin() + s.fed(), s.tokens.begin() + s.fed() + plan[k].tokens);
    segs[k].logits = &logits[k];
    fed_tokens += plan[k].tokens;
  }
  try {
    model_.Forward(segs, options_.forward);
  } catch (const std::bad_alloc&) {
    for (const PlannedChunk& p : plan) {
      Finish(running_[p.sequence].get(), {}, FinishReason::kError, "out of memory in the forward pass");
    }
    std::erase_if(running_, [](const auto& s) { return s->done; });
    return true;
  } catch (const std::exception& e) {
    for (const PlannedChunk& p : plan) {
      Finish(running_[p.sequence].get(), {}, FinishReason::kError, e.what());
    }
    std::erase_if(running_, [](const auto& s) { return s->done; });
    return true;
  }

  int64_t sampled = 0;
  for (size_t k = 0; k < plan.size(); ++k) {
    Sequence* s = running_[plan[k].sequence].get();
    if (!views[plan[k].sequence].decoding && s->req.on_prefill_progress) {
      s->req.on_prefill_progress(std::min(s->fed(), s->prompt_len), s->prompt_len);
    }
    MaybeSnapshot(s);
    if (s->fed() == int64_t(s->tokens.size())) {
      DSV4_CHECK(int64_t(logits[k].size()) == V);
      SampleAndEmit(s, logits[k]);
      ++sampled;
    }
  }
  std::erase_if(running_, [](const auto& s) { return s->done; });
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.steps;
  stats_.forward_tokens += fed_tokens;
  stats_.generated_tokens += sampled;
  stats_.running = int64_t(running_.size());
  if (prefix_cache_) stats_.prefix_cache = prefix_cache_->stats();
  return true;
}

void Engine::SampleAndEmit(Sequence* seq, const std::vector<float>& logits) {
  const ModelConfig& c = model_.config();
  TokenConstraint* constraint = seq->req.constraint.get();
  SampleResult r = constraint ? SampleConstrained(*seq->sampler, logits, *constraint)
                              : seq->sampler->Sample(logits);
  seq->sampler->Accept(r.token);
  if (constraint) constraint->Accept(r.token);
  seq->tokens.push_back(r.token);
  ++seq->generated;

  StreamEvent e;
  e.has_token = true;
  e.token = r.token;
  e.logprob = r.logprob;
  e.top_logprobs = std::move(r.top_logprobs);
  if (seq->req.return_logits) e.logits = logits;

  const bool stop_id =
      (!seq->req.ignore_eos && r.token == c.eos_token_id) ||
      std::find(seq->req.stop_token_ids.begin(), seq->req.stop_token_ids.end(), r.token) !=
          seq->req.stop_token_ids.end();
  FinishReason finish = FinishReason::kNone;
  bool stop_string = false;
  if (stop_id) {
    finish = FinishReason::kStop;  // the stop token's own text is not sent
  } else if (seq->decoder) {
    StopMatcher::Result m = seq->stops->Push(seq->decoder->Push(r.token));
    e.text = std::move(m.text);
    if (m.stopped) finish = FinishReason::kStop;
    stop_string = m.stopped;
  }
  if (finish == FinishReason::kNone && constraint && constraint->Complete()) {
    finish = FinishReason::kStop;  // the constrained output is whole (its text is sent)
  }
  if (finish == FinishReason::kNone && seq->generated >= seq->max_new) {
    finish = FinishReason::kLength;
  }
  if (finish == FinishReason::kNone) {
    Emit(seq, e);
    return;
  }
  // Flush held-back text, unless a stop string cut it.
  if (seq->decoder && !stop_id && !stop_string) {
    StopMatcher::Result m = seq->stops->Push(seq->decoder->Finish());
    e.text += m.text;
    if (!m.stopped) e.text += seq->stops->Finish();
  }
  Finish(seq, std::move(e), finish);
}

void Engine::Finish(Sequence* seq, StreamEvent event, FinishReason reason, std::string error) {
  if (seq->done) return;
  seq->done = true;
  // The output's last block boundary, for the next turn of a conversation.
  if (prefix_cache_ && seq->pending_snapshot && reason != FinishReason::kError) {
    const int64_t n = seq->pending_snapshot->length();
    std::span<const int32_t> prefix(seq->tokens.data(), size_t(n));
    if (!prefix_cache_->Contains(prefix)) prefix_cache_->Insert(prefix, *seq->pending_snapshot);
  }
  event.finish = reason;
  event.error = std::move(error);
  event.usage.prompt_tokens = seq->prompt_len;
  event.usage.cached_tokens = seq->cached;
  event.usage.completion_tokens = seq->generated;
  seq->state.reset();
  seq->pending_snapshot.reset();
  if (seq->admitted) {
    std::lock_guard<std::mutex> lock(mu_);
    reserved_bytes_ -= seq->reserved;
    stats_.reserved_bytes = reserved_bytes_;
    seq->admitted = false;
  }
  Emit(seq, event);
}

void Engine::Emit(Sequence* seq, const StreamEvent& event) {
  if (!seq->req.on_event) return;
  StreamEvent e = event;
  e.request_id = seq->id;
  try {
    seq->req.on_event(e);
  } catch (...) {
    // A failing consumer ends its own request, never the engine.
    if (!seq->done) {
      seq->req.on_event = nullptr;
      Finish(seq, {}, FinishReason::kCancelled);
    }
  }
}

}  // namespace dsv4
