#include "server/openai_completions.h"

#include "server/api_error.h"
#include "server/openai_chat.h"

namespace dsv4::server {
namespace {

const char* const kFimBegin = "<｜fim▁begin｜>";
const char* const kFimHole = "<｜fim▁hole｜>";
const char* const kFimEnd = "<｜fim▁end｜>";

// The one prompt of the request: a string, [string], or token ids ([int] / [[int]]).
std::vector<int32_t> PromptIds(const Json& prompt, const tokenizer::Tokenizer& tokenizer,
                               std::string* text) {
  const Json* p = &prompt;
  if (p->is_array() && p->size() == 1 && ((*p)[0].is_string() || (*p)[0].is_array())) p = &(*p)[0];
  if (p->is_string()) {
    *text = p->get<std::string>();
    // The caller wrote the whole prompt: chat markers in it are meant (raw completion).
    return tokenizer.Encode(*text, true);
  }
  if (p->is_array() && !p->empty()) {
    std::vector<int32_t> ids;
    for (const Json& t : *p) {
      if (!t.is_number_integer()) {
        throw BadRequest("Invalid 'prompt': one prompt per request (a string or an array of token ids)");
      }
      const int64_t id = t.get<int64_t>();
      if (id < 0 || id >= tokenizer.vocab_size()) {
        throw BadRequest("Invalid 'prompt': token id " + std::to_string(id) + " is outside the vocabulary");
      }
      ids.push_back(int32_t(id));
    }
    *text = tokenizer.Decode(ids);
    return ids;
  }
  throw BadRequest("Invalid 'prompt': expected a non-empty string or array of token ids");
}

}  // namespace

CompletionJob ParseOpenAICompletion(const Json& body, const ModelRegistry& models,
                                    const tokenizer::Tokenizer& tokenizer, int32_t bos_id) {
  CompletionJob out;
  ChatJob& job = out.job;
  std::optional<std::string> model = OptString(body, "model");
  if (!model) throw BadRequest("Failed to deserialize the JSON body into the target type: missing field `model`");
  job.model = models.Resolve(*model).id;
  if (!body.contains("prompt")) throw BadRequest("Failed to deserialize the JSON body into the target type: missing field `prompt`");
  if (OptInt(body, "n", 1, 128).value_or(1) != 1 || OptInt(body, "best_of", 1, 128).value_or(1) != 1) {
    throw BadRequest("Invalid 'n' / 'best_of': only 1 is supported");
  }
  job.stream = OptBool(body, "stream").value_or(false);
  if (body.contains("stream_options") && body["stream_options"].is_object()) {
    job.include_usage = OptBool(body["stream_options"], "include_usage").value_or(false);
  }
  job.max_tokens = OptInt(body, "max_tokens", 1, int64_t(1) << 40).value_or(16);  // OpenAI's default
  job.stop = StringOrList(body, "stop", 16);
  if (auto t = OptNumber(body, "temperature", 0.0, 2.0)) job.sampling.temperature = *t;
  if (auto p = OptNumber(body, "top_p", 0.0, 1.0)) job.sampling.top_p = *p > 0 ? *p : 1e-9;
  if (auto p = OptNumber(body, "presence_penalty", -2.0, 2.0)) job.sampling.presence_penalty = *p;
  if (auto p = OptNumber(body, "frequency_penalty", -2.0, 2.0)) job.sampling.frequency_penalty = *p;
  if (auto seed = OptInt(body, "seed", INT64_MIN, INT64_MAX)) job.sampling.seed = uint64_t(*seed);
  ParseLogitBias(body, &job.sampling);
  out.logprobs = OptInt(body, "logprobs", 0, 20).value_or(-1);
  job.logprobs = out.logprobs >= 0;
  job.top_logprobs = std::max<int64_t>(out.logprobs, 0);
  const bool echo = OptBool(body, "echo").value_or(false);
  if (echo && job.logprobs) {
    throw BadRequest("Invalid 'echo': echo with logprobs is not supported (prompt logprobs are not computed)");
  }

  std::string prompt_text;
  std::vector<int32_t> ids;
  const std::optional<std::string> suffix = OptString(body, "suffix");
  if (suffix) {
    const auto begin = tokenizer.TokenId(kFimBegin), hole = tokenizer.TokenId(kFimHole),
               end = tokenizer.TokenId(kFimEnd);
    if (!begin || !hole || !end) {
      throw BadRequest("Invalid 'suffix': fill-in-the-middle is unavailable, this model's tokenizer "
                       "has no <｜fim▁begin｜>, <｜fim▁hole｜>, <｜fim▁end｜> tokens");
    }
    if (!body["prompt"].is_string()) throw BadRequest("Invalid 'prompt': FIM needs a string prompt");
    prompt_text = body["prompt"].get<std::string>();
    // The code around the hole is data: markers in it stay text.
    ids.push_back(*begin);
    tokenizer.EncodeAppend(prompt_text, false, &ids);
    ids.push_back(*hole);
    tokenizer.EncodeAppend(*suffix, false, &ids);
    ids.push_back(*end);
  } else {
    ids = PromptIds(body["prompt"], tokenizer, &prompt_text);
  }
  if (ids.empty() || ids.front() != bos_id) ids.insert(ids.begin(), bos_id);
  out.prompt = std::move(ids);
  if (echo) out.echo = prompt_text;
  return out;
}

OpenAICompletionWriter::OpenAICompletionWriter(std::string id, std::string model, int64_t created,
                                               bool include_usage, std::string echo,
                                               double cache_hit_price_ratio)
    : id_(std::move(id)),
      model_(std::move(model)),
      created_(created),
      include_usage_(include_usage),
      echo_(std::move(echo)),
      cache_hit_price_ratio_(cache_hit_price_ratio) {}

Json OpenAICompletionWriter::Chunk(std::string text, Json logprobs, Json finish_reason) const {
  Json chunk = {{"id", id_},
                {"object", "text_completion"},
                {"created", created_},
                {"model", model_},
                {"system_fingerprint", "dsv4"},
                {"choices", Json::array({{{"text", std::move(text)},
                                          {"index", 0},
                                          {"logprobs", std::move(logprobs)},
                                          {"finish_reason", std::move(finish_reason)}}})}};
  if (include_usage_) chunk["usage"] = nullptr;
  return chunk;
}

Json OpenAICompletionWriter::Logprobs(const std::vector<TokenLogprobInfo>& logprobs,
                                      size_t* offset) const {
  Json tokens = Json::array(), token_logprobs = Json::array(), top = Json::array(),
       offsets = Json::array();
  for (const TokenLogprobInfo& t : logprobs) {
    tokens.push_back(t.token);
    token_logprobs.push_back(t.logprob);
    Json alternatives = Json::object();
    for (const TopLogprob& a : t.top) alternatives[a.token] = a.logprob;
    top.push_back(std::move(alternatives));
    offsets.push_back(*offset);
    *offset += t.bytes.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top},
          {"text_offset", offsets}};
}

Json OpenAICompletionWriter::FirstChunk() const { return Chunk(echo_, nullptr, nullptr); }

std::vector<Json> OpenAICompletionWriter::DeltaChunks(const tokenizer::ParserDelta& d,
                                                      const std::vector<TokenLogprobInfo>& logprobs) {
  if (d.content.empty() && logprobs.empty()) return {};
  return {Chunk(d.content, logprobs.empty() ? Json(nullptr) : Logprobs(logprobs, &offset_), nullptr)};
}

Json OpenAICompletionWriter::FinalChunk(const GenerationOutcome& outcome) const {
  Json chunk = Chunk("", nullptr, OpenAIFinishReason(outcome));
  if (include_usage_) chunk["usage"] = OpenAIUsage(outcome.usage, false, model_, cache_hit_price_ratio_);
  return chunk;
}

Json OpenAICompletionWriter::Completion(const std::string& text, const GenerationOutcome& outcome,
                                        const std::vector<TokenLogprobInfo>* logprobs) const {
  size_t offset = echo_.size();
  Json chunk = Chunk(echo_ + text, logprobs ? Logprobs(*logprobs, &offset) : Json(nullptr),
                     OpenAIFinishReason(outcome));
  chunk["usage"] = OpenAIUsage(outcome.usage, false, model_, cache_hit_price_ratio_);
  return chunk;
}

}  // namespace dsv4::server
