#include "tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <unordered_map>

#include "tokenizer/unicode_classes.h"

namespace dsv4::tokenizer {

struct RegexSplitter::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Compiled() {
    if (code != nullptr) pcre2_code_free(code);
  }
};

namespace {

// Match data is not thread-safe; keep one block per thread and per pattern. Sized for
// one capture group pair (the patterns only need the overall match).
pcre2_match_data* ThreadMatchData() {
  thread_local struct Holder {
    pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
    ~Holder() { pcre2_match_data_free(md); }
  } holder;
  return holder.md;
}

}  // namespace

namespace {

Result<std::unique_ptr<RegexSplitter::Compiled>> Compile(const std::string& p,
                                                         const std::string& original) {
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  // UTF + UCP: \s, \p{..} and classes are Unicode-aware, as in the Rust (Oniguruma)
  // and JavaScript engines the tokenizer.json was written for. MATCH_INVALID_UTF
  // lets arbitrary bytes through: invalid sequences simply never match.
  const uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(), options, &err,
                                   &err_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    return Status::Fail("pre-tokenizer regex does not compile at offset " +
                        std::to_string(err_offset) + ": " +
                        std::string(reinterpret_cast<char*>(msg)) + " in /" + original + "/");
  }
  auto c = std::make_unique<RegexSplitter::Compiled>();
  c->code = code;
  c->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return c;
}

}  // namespace

Result<RegexSplitter> RegexSplitter::Create(const std::vector<std::string>& patterns) {
  RegexSplitter s;
  s.patterns_ = patterns;
  for (const std::string& original : patterns) {
    auto native = Compile(original, original);
    if (!native.ok()) return native.status();
    auto pinned = Compile(ExpandUnicodeClasses(original), original);
    if (!pinned.ok()) return pinned.status();
    s.native_.push_back(std::move(native).value());
    s.pinned_.push_back(std::move(pinned).value());
  }
  return s;
}

RegexSplitter::RegexSplitter(RegexSplitter&&) noexcept = default;
RegexSplitter& RegexSplitter::operator=(RegexSplitter&&) noexcept = default;
RegexSplitter::~RegexSplitter() = default;

void RegexSplitter::SplitLevel(size_t level, std::string_view text, size_t base,
                               const std::function<void(size_t, size_t)>& emit) const {
  if (text.empty()) return;
  if (level == native_.size()) {
    emit(base, text.size());
    return;
  }
  // Each level splits each piece on its own, so the choice of class tables is per piece:
  // the pinned (slower) compilation only where the piece holds a disputed code point.
  const Compiled& c = NeedsPinnedClasses(text) ? *pinned_[level] : *native_[level];
  pcre2_match_data* md = ThreadMatchData();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;  // start of the next search
  size_t gap = 0;  // start of the text not yet emitted
  while (pos < text.size()) {
    const int rc = c.jit ? pcre2_jit_match(c.code, subject, text.size(), pos, 0, md, nullptr)
                         : pcre2_match(c.code, subject, text.size(), pos, 0, md, nullptr);
    if (rc < 0) break;  // no more matches (or a match error: treat the rest as a gap)
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t start = ov[0], end = ov[1];
    if (end == start) {
      // Empty match (none of DeepSeek's patterns can produce one): step past it,
      // keeping whole code points together.
      pos = start + 1;
      while (pos < text.size() && (static_cast<uint8_t>(text[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    if (start > gap) SplitLevel(level + 1, text.substr(gap, start - gap), base + gap, emit);
    SplitLevel(level + 1, text.substr(start, end - start), base + start, emit);
    gap = pos = end;
  }
  if (gap < text.size()) SplitLevel(level + 1, text.substr(gap), base + gap, emit);
}

void RegexSplitter::Split(std::string_view text,
                          const std::function<void(size_t, size_t)>& emit) const {
  SplitLevel(0, text, 0, emit);
}

}  // namespace dsv4::tokenizer
