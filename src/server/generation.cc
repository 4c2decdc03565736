#include "server/generation.h"

#include <algorithm>
#include <limits>

#include "engine/prefill_progress.h"
#include "server/api_error.h"
#include "tokenizer/chat_encoder.h"
#include "tokenizer/chat_format.h"

namespace dsv4::server {
namespace {

tokenizer::OutputParserOptions ParserOptions(const tokenizer::ChatRequest& chat,
                                             bool starts_in_reasoning) {
  tokenizer::OutputParserOptions o;
  o.starts_in_reasoning = starts_in_reasoning;
  if (chat.tools.is_array()) {
    for (const auto& t : chat.tools) {
      const auto& f = t.contains("function") ? t["function"] : t;
      if (f.is_object() && f.contains("name") && f["name"].is_string() &&
          f.contains("parameters") && f["parameters"].is_object()) {
        o.tool_schemas[f["name"].get<std::string>()] = f["parameters"];
      }
    }
  }
  return o;
}

// A request that offers no tools (none given, or tool_choice "none" hid them) cannot get a
// tool call back: the DSML token that opens a tool block is never sampled, so the model
// says what it has to say as text (chat-format §4.4 #14, "suppress"). Without this a
// sampled block came back as finish_reason "tool_calls" naming a tool nobody offered.
SamplingParams WithoutToolCalls(const tokenizer::Tokenizer& tokenizer, SamplingParams sampling) {
  if (const auto dsml = tokenizer.TokenId(tokenizer::v4::kDsml)) {
    sampling.logit_bias[*dsml] = -std::numeric_limits<float>::infinity();
  }
  return sampling;
}

bool OffersTools(const tokenizer::ChatRequest& chat) {
  auto some = [](const auto& tools) { return tools.is_array() && !tools.empty(); };
  return some(chat.tools) || std::any_of(chat.messages.begin(), chat.messages.end(),
                                         [&](const auto& m) { return some(m.tools); });
}

}  // namespace

PreparedPrompt PreparePrompt(const tokenizer::Tokenizer& tokenizer,
                             const tokenizer::ChatRequest& chat) {
  auto encoded = tokenizer::EncodeChat(chat);
  if (!encoded.ok()) throw BadRequest(encoded.error());
  // Caller text is tokenised as plain text: a message cannot smuggle in control tokens
  // (chat-format §1.5); only the encoder's own format text yields them.
  return {tokenizer::TokenizePrompt(tokenizer, encoded.value(), false),
          encoded->starts_in_reasoning};
}

Generation::Generation(Engine& engine, const tokenizer::Tokenizer& tokenizer, const ChatJob& job)
    : engine_(engine), tokenizer_(tokenizer) {
  PreparedPrompt prompt = PreparePrompt(tokenizer, job.chat);
  parser_ = tokenizer::OutputParser(ParserOptions(job.chat, prompt.starts_in_reasoning));
  thinking_ = prompt.starts_in_reasoning;
  // With an enforced shape, reasoning may use half of an explicit output budget.
  const int64_t reasoning_budget = thinking_ && job.max_tokens > 0 ? job.max_tokens / 2 : -1;
  if (job.shape == ChatJob::Shape::kJsonObject) {
    constraint_ = OutputConstraint::JsonObject(tokenizer, thinking_, reasoning_budget);
  } else if (job.shape == ChatJob::Shape::kToolCall) {
    std::vector<DsmlTool> tools = DsmlToolsFromOpenAI(job.chat.tools, job.forced_tools);
    if (tools.empty()) throw BadRequest("tool_choice forces a tool call but no such tool is given");
    constraint_ = OutputConstraint::ToolCalls(tokenizer, thinking_, std::move(tools),
                                              job.parallel_tool_calls, reasoning_budget);
  }
  Submit(job, std::move(prompt.ids),
         OffersTools(job.chat) ? job.sampling : WithoutToolCalls(tokenizer, job.sampling));
}

Generation::Generation(Engine& engine, const tokenizer::Tokenizer& tokenizer, const ChatJob& job,
                       std::vector<int32_t> prompt)
    : engine_(engine), tokenizer_(tokenizer), raw_(true) {
  Submit(job, std::move(prompt), job.sampling);
}

void Generation::Submit(const ChatJob& job, std::vector<int32_t> prompt, SamplingParams sampling) {
  eos_ = int32_t(engine_.model().config().eos_token_id);
  prompt_tokens_ = int64_t(prompt.size());
  const int64_t context = engine_.context_length();
  // Checked here, before any work, with the numbers a client needs.
  if (prompt_tokens_ >= context) {
    throw BadRequest("This model's maximum context length is " + std::to_string(context) +
                     " tokens. However, your prompt is " + std::to_string(prompt_tokens_) +
                     " tokens. Please reduce the length of the messages.");
  }
  GenerationRequest request;
  request.prompt = std::move(prompt);
  request.sampling = std::move(sampling);
  // A completion budget over what the context has room for is cut to fit (clients such as
  // OpenCode ask for 32000 by default); the output then ends with "length".
  const int64_t room = context - prompt_tokens_;
  request.max_tokens = job.max_tokens < 0 ? -1 : std::min(job.max_tokens, room);
  request.stop = job.stop;
  request.sampling.logprobs = job.logprobs;
  request.sampling.top_logprobs = job.logprobs ? job.top_logprobs : 0;
  request.constraint = constraint_;
  request.on_event = stream_.Callback();
  // Long prompts log their prefill progress (server log, at most every 5 s per request).
  request.on_prefill_progress = PrefillProgressLogger("request of " + std::to_string(prompt_tokens_) + " prompt tokens: ", 5.0);
  auto id = engine_.Submit(std::move(request));
  if (!id.ok()) {
    // A full queue or an engine that is stopping: the client should retry (DeepSeek's 503
    // "Server Overloaded"); anything else is the request's fault.
    const bool busy = id.error().find("overloaded") != std::string::npos ||
                      id.error().find("shutting down") != std::string::npos;
    throw ApiError(busy ? 503 : 400, busy ? "Server overloaded, please retry later (" + id.error() + ")"
                                          : id.error());
  }
  id_ = id.value();
}

Generation::~Generation() {
  if (done_) return;
  // The engine still holds a callback into stream_ until it emits the final event, so
  // wait for that event (the next engine step) before the stream goes away.
  Cancel();
  while (stream_.Next().finish == FinishReason::kNone) {
  }
}

void Generation::Cancel() { engine_.Cancel(id_); }

bool Generation::Next(tokenizer::ParserDelta* delta, std::vector<TokenLogprobInfo>* logprobs) {
  *delta = {};
  if (done_) return false;
  StreamEvent e = stream_.Next();
  const bool reasoning = thinking_ && !parser_.result().reasoning_closed;
  if (e.has_token && reasoning) ++outcome_.usage.reasoning_tokens;
  if (logprobs && e.has_token && e.finish != FinishReason::kCancelled) {
    TokenLogprobInfo info;
    info.bytes = std::string(tokenizer_.TokenBytes(e.token));
    info.token = tokenizer_.DecodeText(std::vector<int32_t>{e.token});
    info.logprob = e.logprob;
    for (const TokenLogprob& t : e.top_logprobs) {
      info.top.push_back({tokenizer_.DecodeText(std::vector<int32_t>{t.token}),
                          std::string(tokenizer_.TokenBytes(t.token)), t.logprob});
    }
    info.reasoning = reasoning;
    logprobs->push_back(std::move(info));
  }
  if (raw_) {
    delta->content = e.text;
    raw_text_ += e.text;
  } else {
    *delta = parser_.Push(e.text);
  }
  if (e.finish == FinishReason::kNone) return true;

  tokenizer::ParserDelta tail = raw_ ? tokenizer::ParserDelta{} : parser_.Finish();
  delta->reasoning += tail.reasoning;
  delta->content += tail.content;
  for (auto& call : tail.tool_calls) delta->tool_calls.push_back(std::move(call));
  done_ = true;
  outcome_.finish = e.finish;
  // A stop that is neither EOS nor the end of an enforced shape came from a stop string.
  outcome_.stop_string = e.finish == FinishReason::kStop && !(e.has_token && e.token == eos_) &&
                         !(constraint_ && constraint_->Complete());
  outcome_.error = e.error;
  outcome_.usage.prompt_tokens = e.usage.prompt_tokens;
  outcome_.usage.cached_tokens = e.usage.cached_tokens;
  outcome_.usage.completion_tokens = e.usage.completion_tokens;
  outcome_.tool_calls = !raw_ && !parser_.result().tool_calls.empty();
  return false;
}

}  // namespace dsv4::server
