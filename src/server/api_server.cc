#include "server/api_server.h"

#include <httplib.h>

#include <chrono>
#include <functional>
#include <cstdio>
#include <mutex>
#include <random>

#include "server/anthropic_messages.h"
#include "server/api_error.h"
#include "server/generation.h"
#include "server/openai_chat.h"
#include "server/openai_completions.h"

namespace dsv4::server {
namespace {

using httplib::Request;
using httplib::Response;

// Anthropic routes answer errors in Anthropic's envelope, everything else in OpenAI's.
bool IsAnthropicPath(const std::string& path) {
  return path.find("/messages") != std::string::npos || path.rfind("/anthropic", 0) == 0;
}

void SendError(const Request& req, Response& res, int status, const std::string& message) {
  res.status = status;
  if (status == 429 || status == 503) res.set_header("Retry-After", "1");
  const Json body = IsAnthropicPath(req.path) ? AnthropicErrorBody(status, message)
                                              : OpenAIErrorBody(status, message);
  res.set_content(body.dump(), "application/json");
}

void SendJson(Response& res, const Json& body) {
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
}

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Runs a handler, turning ApiError (and anything unexpected) into an error response.
template <typename F>
httplib::Server::Handler Guarded(F f) {
  return [f](const Request& req, Response& res) {
    try {
      f(req, res);
    } catch (const ApiError& e) {
      SendError(req, res, e.status(), e.what());
    } catch (const std::exception& e) {
      SendError(req, res, 500, std::string("internal error: ") + e.what());
    }
  };
}

// Shared by the streaming content providers: the generation and its writer live as long
// as httplib keeps the provider.
template <typename Writer>
struct StreamState {
  std::unique_ptr<KeyLimiter::Slot> slot;  // released after the generation ended
  std::unique_ptr<Generation> gen;
  Writer writer;
  bool logprobs = false;  // collect token log-probabilities (OpenAI)
  std::vector<TokenLogprobInfo> all_logprobs;
  std::function<void(const GenerationOutcome&)> on_done;  // usage accounting
};

// The API key a request presents: x-api-key, else the Bearer token ("" = none).
std::string RequestKey(const Request& req) {
  std::string key = req.get_header_value("x-api-key");
  const std::string auth = req.get_header_value("Authorization");
  if (key.empty() && auth.rfind("Bearer ", 0) == 0) key = auth.substr(7);
  return key;
}

// A non-streamed answer. It is sent as a chunked body so that, while the generation runs,
// a newline goes out about once a second: leading whitespace that JSON parsers skip
// (DeepSeek does the same while a request waits) and that shows when the client has gone,
// so its generation is cancelled like a stream's.
template <typename Writer, typename Build>
void SendWhole(Response& res, std::unique_ptr<KeyLimiter::Slot> slot,
               std::unique_ptr<Generation> gen, Writer writer,
               std::function<void(const GenerationOutcome&)> on_done, Build build,
               bool logprobs = false) {
  auto state = std::make_shared<StreamState<Writer>>(StreamState<Writer>{
      std::move(slot), std::move(gen), std::move(writer), logprobs, {}, std::move(on_done)});
  res.set_chunked_content_provider(
      "application/json",
      [state, build](size_t, httplib::DataSink& sink) {
        auto last = std::chrono::steady_clock::now();
        tokenizer::ParserDelta d;
        while (state->gen->Next(&d, state->logprobs ? &state->all_logprobs : nullptr)) {
          const auto now = std::chrono::steady_clock::now();
          if (now - last >= std::chrono::seconds(1)) {
            if (!sink.write("\n", 1)) return false;  // client gone: the releaser cancels
            last = now;
          }
        }
        state->on_done(state->gen->outcome());
        const std::string body = Dump(build(*state));
        sink.write(body.data(), body.size());
        sink.done();
        return true;
      },
      [state](bool success) {
        if (!success) state->gen->Cancel();
      });
}

// An OpenAI-style SSE stream (chat.completion.chunk or text_completion chunks): the
// writer's first chunk, one or more chunks per generation step, the finish chunk (usage
// on it, DeepSeek's shape), then [DONE].
template <typename Writer>
void StreamOpenAI(Response& res, std::shared_ptr<StreamState<Writer>> state) {
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [state](size_t, httplib::DataSink& sink) {
        auto send = [&](const Json& j) {
          const std::string line = "data: " + Dump(j) + "\n\n";
          return sink.write(line.data(), line.size());
        };
        if (!send(state->writer.FirstChunk())) return false;
        tokenizer::ParserDelta d;
        std::vector<TokenLogprobInfo> logprobs;
        const bool want_logprobs = state->logprobs;
        bool more = true;
        while (more) {
          logprobs.clear();
          more = state->gen->Next(&d, want_logprobs ? &logprobs : nullptr);
          for (const Json& chunk : state->writer.DeltaChunks(d, logprobs)) {
            if (!send(chunk)) return false;  // client gone: the releaser cancels
          }
        }
        const GenerationOutcome& outcome = state->gen->outcome();
        state->on_done(outcome);
        if (outcome.finish == FinishReason::kError) {
          send(OpenAIErrorBody(500, outcome.error));
        } else {
          send(state->writer.FinalChunk(outcome));
        }
        const std::string done = "data: [DONE]\n\n";
        sink.write(done.data(), done.size());
        sink.done();
        return true;
      },
      [state](bool success) {
        if (!success) state->gen->Cancel();
      });
}

// An OpenAI-shaped answer (chat or text completion), whole or streamed. `complete` builds
// the whole body from the writer, the finished generation and its logprobs (or nullptr).
template <typename Writer, typename Complete>
void RespondOpenAI(Response& res, bool stream, std::unique_ptr<KeyLimiter::Slot> slot,
                   std::unique_ptr<Generation> gen, Writer writer,
                   std::function<void(const GenerationOutcome&)> on_done, bool logprobs,
                   Complete complete) {
  if (!stream) {
    SendWhole(res, std::move(slot), std::move(gen), std::move(writer), std::move(on_done),
              [complete](const StreamState<Writer>& st) {
                const Generation& g = *st.gen;
                return g.outcome().finish == FinishReason::kError
                           ? OpenAIErrorBody(500, g.outcome().error)
                           : complete(st.writer, g, st.logprobs ? &st.all_logprobs : nullptr);
              },
              logprobs);
    return;
  }
  StreamOpenAI(res, std::make_shared<StreamState<Writer>>(StreamState<Writer>{
                        std::move(slot), std::move(gen), std::move(writer), logprobs, {},
                        std::move(on_done)}));
}

// When the request being answered on this (httplib worker) thread started: httplib
// handles a request, its streamed body and its log line on one thread.
thread_local std::chrono::steady_clock::time_point request_start;

}  // namespace

std::string NewUuid() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  uint64_t a, b;
  {
    std::lock_guard<std::mutex> lock(mu);
    a = rng();
    b = rng();
  }
  a = (a & ~uint64_t(0xF000)) | 0x4000;                           // version 4
  b = (b & ~(uint64_t(0xC) << 60)) | (uint64_t(0x8) << 60);      // RFC 4122 variant
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", unsigned(a >> 32),
                unsigned((a >> 16) & 0xFFFF), unsigned(a & 0xFFFF), unsigned(b >> 48),
                (unsigned long long)(b & 0xFFFFFFFFFFFFull));
  return buf;
}

ApiServer::ApiServer(Engine& engine, const tokenizer::Tokenizer& tokenizer, ServerOptions options)
    : engine_(engine),
      tokenizer_(tokenizer),
      options_(std::move(options)),
      models_(options_.served_model_names),
      limiter_(options_.max_concurrent_per_key),
      meter_(options_.cache_hit_price_ratio),
      http_(std::make_unique<httplib::Server>()) {
  Routes();
}

ApiServer::~ApiServer() = default;

int ApiServer::Bind() {
  if (options_.port == 0) {
    const int port = http_->bind_to_any_port(options_.host);
    if (port <= 0) throw Error("cannot bind " + options_.host);
    return port;
  }
  if (!http_->bind_to_port(options_.host, options_.port)) {
    throw Error("cannot bind " + options_.host + ":" + std::to_string(options_.port));
  }
  return options_.port;
}

void ApiServer::Serve() { http_->listen_after_bind(); }

void ApiServer::Stop() {
  draining_ = true;
  http_->stop();
}

std::function<void(const GenerationOutcome&)> ApiServer::Meter(const httplib::Request& req,
                                                              const std::string& model) {
  return [this, key = RequestKey(req), model](const GenerationOutcome& outcome) {
    meter_.Record(key, model, outcome.usage);
  };
}

void ApiServer::Routes() {
  httplib::Server& s = *http_;
  s.set_payload_max_length(options_.max_body_bytes);
  const size_t threads = options_.http_threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };

  // Errors httplib produces itself (404, 413, 400 on broken HTTP) get a JSON body.
  s.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const Request& req, Response& res) -> httplib::Server::HandlerResponse {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message = "Not Found: " + req.method + " " + req.path;
    if (res.status == 413) message = "Request body too large";
    else if (res.status != 404) message = "HTTP error " + std::to_string(res.status);
    SendError(req, res, res.status, message);
    return httplib::Server::HandlerResponse::Handled;
  }));

  // API keys: Bearer or x-api-key on both surfaces; probes stay open.
  s.set_pre_routing_handler([this](const Request& req, Response& res) {
    request_start = std::chrono::steady_clock::now();
    if (draining_ && req.method == "POST") {
      SendError(req, res, 503, "Server is shutting down, please retry");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (options_.api_keys.empty() || req.path == "/health" || req.method == "HEAD") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    const std::string key = RequestKey(req);
    for (const std::string& k : options_.api_keys) {
      if (k == key) return httplib::Server::HandlerResponse::Unhandled;
    }
    const std::string shown = key.size() > 4 ? "****" + key.substr(key.size() - 4) : key;
    SendError(req, res, 401, "Authentication Fails, Your api key: " + shown + " is invalid");
    return httplib::Server::HandlerResponse::Handled;
  });

  s.Get("/", [](const Request&, Response& res) { SendJson(res, {{"status", "ok"}}); });
  s.Get("/health", [](const Request&, Response& res) { SendJson(res, {{"status", "ok"}}); });
  auto models = [this](const Request& req, Response& res) {
    const int64_t context = engine_.context_length();
    SendJson(res, req.has_header("anthropic-version") ? models_.AnthropicList(context)
                                                      : models_.OpenAIList(context));
  };
  s.Get("/models", models);
  s.Get("/v1/models", models);
  // Engine gauges and counters in Prometheus text format (per-key cost: not yet).
  s.Get("/metrics", [this](const Request&, Response& res) {
    const EngineStats st = engine_.stats();
    std::string text;
    auto metric = [&](const char* name, const char* type, int64_t value) {
      text += std::string("# TYPE ") + name + " " + type + "\n" + name + " " +
              std::to_string(value) + "\n";
    };
    metric("dsv4_requests_running", "gauge", st.running);
    metric("dsv4_requests_waiting", "gauge", st.waiting);
    metric("dsv4_engine_steps_total", "counter", st.steps);
    metric("dsv4_forward_tokens_total", "counter", st.forward_tokens);
    metric("dsv4_generated_tokens_total", "counter", st.generated_tokens);
    metric("dsv4_prefix_cache_lookups_total", "counter", st.prefix_cache.lookups);
    metric("dsv4_prefix_cache_hits_total", "counter", st.prefix_cache.hits);
    metric("dsv4_prefix_cache_bytes", "gauge", st.prefix_cache.bytes);
    const auto [prompt, cached] = meter_.PromptTotals();
    res.set_content(text + meter_.Prometheus() + metrics_.Prometheus(st, prompt, cached),
                    "text/plain; version=0.0.4");
  });
  s.Get("/user/balance", [](const Request&, Response& res) {
    SendJson(res, {{"is_available", true},
                   {"balance_infos", Json::array({{{"currency", "USD"},
                                                   {"total_balance", "0.00"},
                                                   {"granted_balance", "0.00"},
                                                   {"topped_up_balance", "0.00"}}})}});
  });

  auto chat = Guarded([this](const Request& req, Response& res) {
    const Json body = ParseBody(req.body);
    ChatJob job = ParseOpenAIChat(body, models_, options_.strict_reasoning_replay);
    auto slot = limiter_.Acquire(RequestKey(req));
    auto gen = std::make_unique<Generation>(engine_, tokenizer_, job);
    OpenAIChatWriter writer(NewUuid(), job.model, UnixSeconds(), gen->thinking(),
                            job.include_usage, options_.cache_hit_price_ratio);
    RespondOpenAI(res, job.stream, std::move(slot), std::move(gen), std::move(writer),
                  Meter(req, job.model), job.logprobs,
                  [](const OpenAIChatWriter& w, const Generation& g, const auto* logprobs) {
                    return w.Completion(g.parsed(), g.outcome(), logprobs);
                  });
  });
  s.Post("/chat/completions", chat);
  s.Post("/v1/chat/completions", chat);
  // DeepSeek's beta base (chat prefix completion: a last assistant message with
  // "prefix": true is continued); the encoder handles prefix messages on every path.
  s.Post("/beta/chat/completions", chat);
  s.Post("/beta/v1/chat/completions", chat);

  auto completions = Guarded([this](const Request& req, Response& res) {
    const Json body = ParseBody(req.body);
    CompletionJob c = ParseOpenAICompletion(body, models_, tokenizer_,
                                            int32_t(engine_.model().config().bos_token_id));
    const ChatJob& job = c.job;
    auto slot = limiter_.Acquire(RequestKey(req));
    auto gen = std::make_unique<Generation>(engine_, tokenizer_, job, std::move(c.prompt));
    OpenAICompletionWriter writer(NewUuid(), job.model, UnixSeconds(), job.include_usage,
                                  c.echo, options_.cache_hit_price_ratio);
    RespondOpenAI(res, job.stream, std::move(slot), std::move(gen), std::move(writer),
                  Meter(req, job.model), job.logprobs,
                  [](const OpenAICompletionWriter& w, const Generation& g, const auto* logprobs) {
                    return w.Completion(g.raw_text(), g.outcome(), logprobs);
                  });
  });
  s.Post("/completions", completions);
  s.Post("/v1/completions", completions);
  s.Post("/beta/completions", completions);
  s.Post("/beta/v1/completions", completions);

  auto messages = Guarded([this](const Request& req, Response& res) {
    const Json body = ParseBody(req.body);
    ChatJob job = ParseAnthropicMessages(body, models_);
    auto slot = limiter_.Acquire(RequestKey(req));
    auto gen = std::make_unique<Generation>(engine_, tokenizer_, job);
    AnthropicMessageWriter writer(NewUuid(), job.model, job.stop, options_.cache_hit_price_ratio);
    if (!job.stream) {
      SendWhole(res, std::move(slot), std::move(gen), std::move(writer), Meter(req, job.model),
                [](const StreamState<AnthropicMessageWriter>& st) {
                  const Generation& g = *st.gen;
                  return g.outcome().finish == FinishReason::kError
                             ? AnthropicErrorBody(500, g.outcome().error)
                             : st.writer.Message(g.parsed(), g.outcome(), g.thinking());
                });
      return;
    }
    auto state = std::make_shared<StreamState<AnthropicMessageWriter>>(
        StreamState<AnthropicMessageWriter>{std::move(slot), std::move(gen), std::move(writer),
                                            false, {}, Meter(req, job.model)});
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [state](size_t, httplib::DataSink& sink) {
          auto send = [&](const std::vector<AnthropicEvent>& events) {
            for (const auto& [name, data] : events) {
              const std::string text = "event: " + name + "\ndata: " + Dump(data) + "\n\n";
              if (!sink.write(text.data(), text.size())) return false;
            }
            return true;
          };
          if (!send(state->writer.Start(state->gen->prompt_tokens(), state->gen->thinking()))) return false;
          tokenizer::ParserDelta d;
          bool more = true;
          while (more) {
            more = state->gen->Next(&d);
            if (!send(state->writer.Delta(d))) return false;
          }
          const GenerationOutcome& outcome = state->gen->outcome();
          state->on_done(outcome);
          if (outcome.finish == FinishReason::kError) {
            send(std::vector<AnthropicEvent>{{"error", AnthropicErrorBody(500, outcome.error)}});
          } else {
            send(state->writer.Finish(outcome));
          }
          sink.done();
          return true;
        },
        [state](bool success) {
          if (!success) state->gen->Cancel();
        });
  });
  s.Post("/v1/messages", messages);
  s.Post("/anthropic/v1/messages", messages);

  auto count_tokens = Guarded([this](const Request& req, Response& res) {
    const Json body = ParseBody(req.body);
    ChatJob job = ParseAnthropicMessages(body, models_);
    const PreparedPrompt prompt = PreparePrompt(tokenizer_, job.chat);
    SendJson(res, {{"input_tokens", prompt.ids.size()}});
  });
  s.Post("/v1/messages/count_tokens", count_tokens);
  s.Post("/anthropic/v1/messages/count_tokens", count_tokens);

  s.set_exception_handler([](const Request& req, Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what += std::string(": ") + e.what();
    } catch (...) {
    }
    SendError(req, res, 500, what);
  });
  s.set_logger([this](const Request& req, const Response& res) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - request_start).count();
    metrics_.ObserveRequest(req.path, res.status, seconds);
    std::fprintf(stderr, "%s %s -> %d (%.3f s)\n", req.method.c_str(), req.path.c_str(),
                 res.status, seconds);
    if (options_.log_bodies) {
      // What clients send (their headers, keys masked, and the body), to see every field.
      std::string headers;
      for (const auto& [k, v] : req.headers) {
        const bool secret = k == "Authorization" || k == "x-api-key" || k == "X-Api-Key";
        headers += "  " + k + ": " + (secret ? "****" : v) + "\n";
      }
      std::fprintf(stderr, "request %s %s\n%sbody: %s\n", req.method.c_str(), req.target.c_str(),
                   headers.c_str(), req.body.c_str());
      if (res.status >= 400) std::fprintf(stderr, "response: %s\n", res.body.c_str());
    }
  });
}

}  // namespace dsv4::server
