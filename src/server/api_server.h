// The HTTP server: cpp-httplib routes for the OpenAI and Anthropic surfaces, API keys,
// body size limit, SSE streaming, and errors in each API's JSON shape.
//
// Threading: httplib runs each connection on a worker thread; a request's parsing,
// templating, tokenising and response shaping happen there, and only token ids cross
// into the engine (Generation). A client that disconnects mid-stream cancels its
// generation. Stop() is thread-safe; Serve() returns once in-flight requests finished.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "server/generation.h"
#include "server/key_limiter.h"
#include "server/model_registry.h"
#include "server/server_metrics.h"
#include "server/usage_meter.h"
#include "tokenizer/tokenizer.h"

namespace httplib {
class Server;
struct Request;
}

namespace dsv4::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;                          // 0 = any free port (see Bind)
  std::vector<std::string> api_keys;        // empty = no authentication
  std::vector<std::string> served_model_names;  // besides the DeepSeek names
  size_t max_body_bytes = size_t(32) << 20;     // larger bodies get 413
  int64_t max_concurrent_per_key = 64;          // generations in flight per key; 0 = no limit
  // HTTP worker threads. Each open connection (a stream, or an idle keep-alive one) holds
  // one, so this caps concurrent connections; httplib's default (8) is too few to serve.
  size_t http_threads = 128;
  double cache_hit_price_ratio = 0.1;  // cache-hit input price / input price (cost totals)
  // DeepSeek's 400 when a thinking-mode tool conversation omits reasoning_content (OpenAI
  // surface); false renders such turns with empty reasoning instead.
  bool strict_reasoning_replay = true;
  bool log_bodies = false;  // debug: log each request's headers and body to stderr
};

class ApiServer {
 public:
  // `engine` (already started) and `tokenizer` must outlive the server.
  ApiServer(Engine& engine, const tokenizer::Tokenizer& tokenizer, ServerOptions options);
  ~ApiServer();

  int Bind();    // binds host:port; returns the bound port; throws Error on failure
  void Serve();  // answers requests until Stop()
  // Stops accepting connections; requests that still arrive on open ones get 503.
  void Stop();

 private:
  void Routes();
  // Records a finished generation's usage under the request's key.
  std::function<void(const GenerationOutcome&)> Meter(const httplib::Request& req,
                                                      const std::string& model);

  Engine& engine_;
  const tokenizer::Tokenizer& tokenizer_;
  ServerOptions options_;
  ModelRegistry models_;
  KeyLimiter limiter_;
  UsageMeter meter_;
  ServerMetrics metrics_;
  std::atomic<bool> draining_{false};
  std::unique_ptr<httplib::Server> http_;
};

// A random RFC 4122 version-4 UUID (DeepSeek's completion and message ids).
std::string NewUuid();

}  // namespace dsv4::server
