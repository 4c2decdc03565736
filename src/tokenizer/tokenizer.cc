#include "tokenizer/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"
#include "tokenizer/word_cache.h"

namespace dsv4::tokenizer {

namespace {

using nlohmann::json;

// Checks the parts of tokenizer.json we do not implement generally and returns the
// Split regexes. DeepSeek: empty normalizer; Sequence[Split x3 (Isolated), ByteLevel
// (use_regex=false)]; BPE without byte fallback; ByteLevel decoder.
Result<std::vector<std::string>> ReadPreTokenizer(const json& root) {
  const json& norm = root.value("normalizer", json());
  if (!norm.is_null()) {
    if (norm.value("type", "") != "Sequence" || !norm.value("normalizers", json::array()).empty()) {
      return Status::Fail("unsupported normalizer (only none or an empty Sequence)");
    }
  }
  const json& pre = root.value("pre_tokenizer", json());
  std::vector<json> steps;
  if (pre.is_null()) {
    return Status::Fail("tokenizer.json has no pre_tokenizer; a byte-level one is required");
  }
  if (pre.value("type", "") == "Sequence") {
    for (const json& s : pre.at("pretokenizers")) steps.push_back(s);
  } else {
    steps.push_back(pre);
  }
  if (steps.empty() || steps.back().value("type", "") != "ByteLevel") {
    return Status::Fail("pre_tokenizer must end with ByteLevel");
  }
  if (steps.back().value("use_regex", true) || steps.back().value("add_prefix_space", false)) {
    return Status::Fail("ByteLevel pre_tokenizer with use_regex/add_prefix_space is not supported");
  }
  std::vector<std::string> patterns;
  for (size_t i = 0; i + 1 < steps.size(); ++i) {
    const json& s = steps[i];
    if (s.value("type", "") != "Split" || s.value("behavior", "") != "Isolated" ||
        s.value("invert", false) || !s.contains("pattern") || !s["pattern"].contains("Regex")) {
      return Status::Fail("unsupported pre_tokenizer step " + std::to_string(i) + ": " + s.dump());
    }
    patterns.push_back(s["pattern"]["Regex"].get<std::string>());
  }
  return patterns;
}

std::string ReadFile(const std::string& path, Status* status) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    *status = Status::Fail("cannot open " + path);
    return {};
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

Tokenizer::Tokenizer(BpeModel bpe, RegexSplitter splitter)
    : bpe_(std::move(bpe)), splitter_(std::move(splitter)), cache_(std::make_unique<WordCache>()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Result<Tokenizer> Tokenizer::FromFile(const std::string& path) {
  std::string file = path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    file = (std::filesystem::path(path) / "tokenizer.json").string();
  Status st;
  std::string text = ReadFile(file, &st);
  if (!st.ok()) return st;
  Result<Tokenizer> t = FromJson(text);
  if (!t.ok()) return Status::Fail(file + ": " + t.error());
  return t;
}

Result<Tokenizer> Tokenizer::FromJson(std::string_view json_text) {
  json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) return Status::Fail("not a JSON object");
  try {
    const json& model = root.at("model");
    if (model.value("type", "BPE") != "BPE") return Status::Fail("model.type must be BPE");
    if (model.value("byte_fallback", false))
      return Status::Fail("byte_fallback BPE is not supported");
    if (!model.value("continuing_subword_prefix", json()).is_null() ||
        !model.value("end_of_word_suffix", json()).is_null()) {
      return Status::Fail("subword prefixes/suffixes are not supported");
    }
    const json& dec = root.value("decoder", json());
    if (!dec.is_null() && dec.value("type", "") != "ByteLevel") {
      return Status::Fail("decoder must be ByteLevel");
    }
    Result<std::vector<std::string>> patterns = ReadPreTokenizer(root);
    if (!patterns.ok()) return patterns.status();

    std::vector<std::pair<std::string, int32_t>> vocab;
    vocab.reserve(model.at("vocab").size());
    int32_t max_id = -1;
    // Entries outside the byte alphabet (DeepSeek lists BOS/EOS/pad in the vocabulary
    // too) can never come out of BPE; they decode as their literal text.
    std::vector<std::pair<std::string, int32_t>> literal;
    for (auto it = model.at("vocab").begin(); it != model.at("vocab").end(); ++it) {
      const int32_t id = it.value().get<int32_t>();
      if (id < 0) return Status::Fail("negative id in vocabulary");
      max_id = std::max(max_id, id);
      std::optional<std::string> bytes = ByteLevelToBytes(it.key());
      if (bytes) {
        vocab.emplace_back(std::move(*bytes), id);
      } else {
        literal.emplace_back(it.key(), id);
      }
    }
    std::vector<std::pair<std::string, std::string>> merges;
    merges.reserve(model.at("merges").size());
    for (const json& m : model.at("merges")) {
      std::string left, right;
      if (m.is_string()) {  // "left right" (older serialisation)
        const std::string s = m.get<std::string>();
        const size_t sp = s.find(' ');
        if (sp == std::string::npos) return Status::Fail("malformed merge: " + s);
        left = s.substr(0, sp);
        right = s.substr(sp + 1);
      } else {  // ["left", "right"]
        left = m.at(0).get<std::string>();
        right = m.at(1).get<std::string>();
      }
      std::optional<std::string> l = ByteLevelToBytes(left), r = ByteLevelToBytes(right);
      if (!l || !r) return Status::Fail("merge outside the byte alphabet");
      merges.emplace_back(std::move(*l), std::move(*r));
    }

    std::vector<AddedToken> added;
    for (const json& a : root.value("added_tokens", json::array())) {
      AddedToken t;
      t.id = a.at("id").get<int32_t>();
      t.content = a.at("content").get<std::string>();
      t.special = a.value("special", false);
      if (t.id < 0 || t.content.empty()) return Status::Fail("bad added token");
      // lstrip/rstrip/single_word change matching; DeepSeek's files never set them.
      if (a.value("lstrip", false) || a.value("rstrip", false) || a.value("single_word", false)) {
        return Status::Fail("added token options lstrip/rstrip/single_word are not supported: " +
                            t.content);
      }
      max_id = std::max(max_id, t.id);
      added.push_back(std::move(t));
    }

    // The vocabulary keeps its own copy for id -> bytes.
    std::vector<std::string> bytes_of(static_cast<size_t>(max_id) + 1);
    std::vector<uint8_t> known(bytes_of.size(), 0), is_added(bytes_of.size(), 0);
    for (const auto& [b, id] : vocab) {
      bytes_of[id] = b;
      known[id] = 1;
    }
    for (const auto& [text, id] : literal) {
      bytes_of[id] = text;
      known[id] = 1;
    }
    Result<BpeModel> bpe = BpeModel::Create(std::move(vocab), merges);
    if (!bpe.ok()) return bpe.status();
    Result<RegexSplitter> splitter = RegexSplitter::Create(patterns.value());
    if (!splitter.ok()) return splitter.status();

    Tokenizer tok(std::move(bpe).value(), std::move(splitter).value());
    for (const AddedToken& t : added) {
      // An added token overrides a vocabulary entry with the same id (V3 lists BOS/EOS
      // in both places with the same text).
      bytes_of[t.id] = t.content;
      known[t.id] = 1;
      is_added[t.id] = 1;
      tok.added_matcher_.Add(t);
    }
    tok.added_ = std::move(added);
    tok.bytes_of_ = std::move(bytes_of);
    tok.known_ = std::move(known);
    tok.is_added_ = std::move(is_added);
    return tok;
  } catch (const json::exception& e) {
    return Status::Fail(std::string("malformed tokenizer.json: ") + e.what());
  }
}

void Tokenizer::EncodeOrdinary(std::string_view text, std::vector<int32_t>* out) const {
  splitter_.Split(text, [&](size_t off, size_t len) {
    const std::string_view word = text.substr(off, len);
    if (len == 1) {
      out->push_back(bpe_.ByteId(static_cast<uint8_t>(word[0])));
      return;
    }
    if (len > WordCache::kMaxWordBytes || !cache_enabled_) {
      bpe_.EncodeWord(word, out);
      return;
    }
    if (cache_->Lookup(word, out)) return;
    const size_t before = out->size();
    bpe_.EncodeWord(word, out);
    cache_->Insert(word, out->data() + before, out->size() - before);
  });
}

void Tokenizer::EncodeAppend(std::string_view text, bool match_added_tokens,
                             std::vector<int32_t>* out) const {
  if (!match_added_tokens || added_matcher_.empty()) {
    EncodeOrdinary(text, out);
    return;
  }
  size_t pos = 0;
  while (pos < text.size()) {
    const AddedTokenMatcher::Match m = added_matcher_.FindNext(text, pos);
    if (m.length == 0) {
      EncodeOrdinary(text.substr(pos), out);
      return;
    }
    if (m.offset > pos) EncodeOrdinary(text.substr(pos, m.offset - pos), out);
    out->push_back(m.id);
    pos = m.offset + m.length;
  }
}

void Tokenizer::EncodeAppendFiltered(std::string_view text,
                                     const std::function<bool(size_t, size_t)>& allow,
                                     std::vector<int32_t>* out) const {
  size_t pos = 0, from = 0;
  while (pos < text.size()) {
    const AddedTokenMatcher::Match m = added_matcher_.FindNext(text, from);
    if (m.length == 0) break;
    if (!allow(m.offset, m.length)) {
      from = m.offset + 1;
      continue;
    }
    if (m.offset > pos) EncodeOrdinary(text.substr(pos, m.offset - pos), out);
    out->push_back(m.id);
    pos = from = m.offset + m.length;
  }
  if (pos < text.size()) EncodeOrdinary(text.substr(pos), out);
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool match_added_tokens) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 8);
  EncodeAppend(text, match_added_tokens, &ids);
  return ids;
}

std::string Tokenizer::Decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (IsKnown(id)) out += bytes_of_[id];
  }
  return out;
}

std::string Tokenizer::DecodeText(std::span<const int32_t> ids) const {
  return SanitizeUtf8(Decode(ids));
}

std::string_view Tokenizer::TokenBytes(int32_t id) const {
  return IsKnown(id) ? std::string_view(bytes_of_[id]) : std::string_view();
}

std::optional<int32_t> Tokenizer::TokenId(std::string_view content) const {
  for (const AddedToken& t : added_) {
    if (t.content == content) return t.id;
  }
  const int32_t id = bpe_.Find(content);
  if (id >= 0) return id;
  return std::nullopt;
}

bool Tokenizer::IsAddedToken(int32_t id) const {
  return id >= 0 && id < vocab_size() && is_added_[id];
}

}  // namespace dsv4::tokenizer
