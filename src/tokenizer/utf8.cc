#include "tokenizer/utf8.h"

namespace dsv4::tokenizer {

namespace {
constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD
}  // namespace

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsValidUtf8(std::string_view bytes) {
  Utf8Sanitizer s;
  std::string out;
  out.reserve(bytes.size());
  s.Push(bytes, &out);
  if (s.pending() != 0) return false;
  return out.size() == bytes.size() && out == bytes;
}

// The WHATWG "UTF-8 decoder" algorithm, byte by byte.
void Utf8Sanitizer::PushByte(uint8_t b, std::string* out) {
  if (needed_ == 0) {
    if (b < 0x80) {
      out->push_back(static_cast<char>(b));
      return;
    }
    if (b >= 0xC2 && b <= 0xDF) {
      needed_ = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      if (b == 0xE0) lower_ = 0xA0;
      if (b == 0xED) upper_ = 0x9F;
      needed_ = 2;
    } else if (b >= 0xF0 && b <= 0xF4) {
      if (b == 0xF0) lower_ = 0x90;
      if (b == 0xF4) upper_ = 0x8F;
      needed_ = 3;
    } else {
      out->append(kReplacement);
      return;
    }
    pending_[0] = b;
    pending_len_ = 1;
    return;
  }
  if (b < lower_ || b > upper_) {
    // The held bytes are a maximal subpart that cannot be completed: one U+FFFD,
    // then this byte starts over.
    needed_ = 0;
    pending_len_ = 0;
    lower_ = 0x80;
    upper_ = 0xBF;
    out->append(kReplacement);
    PushByte(b, out);
    return;
  }
  lower_ = 0x80;
  upper_ = 0xBF;
  pending_[pending_len_++] = b;
  if (--needed_ == 0) {
    out->append(reinterpret_cast<const char*>(pending_), pending_len_);
    pending_len_ = 0;
  }
}

void Utf8Sanitizer::Push(std::string_view bytes, std::string* out) {
  size_t i = 0;
  const size_t n = bytes.size();
  while (i < n) {
    // Fast path for runs of ASCII when nothing is pending.
    if (needed_ == 0) {
      size_t j = i;
      while (j < n && static_cast<uint8_t>(bytes[j]) < 0x80) ++j;
      if (j > i) {
        out->append(bytes.data() + i, j - i);
        i = j;
        continue;
      }
    }
    PushByte(static_cast<uint8_t>(bytes[i]), out);
    ++i;
  }
}

void Utf8Sanitizer::Finish(std::string* out) {
  if (needed_ != 0) out->append(kReplacement);
  needed_ = 0;
  pending_len_ = 0;
  lower_ = 0x80;
  upper_ = 0xBF;
}

std::string SanitizeUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  Utf8Sanitizer s;
  s.Push(bytes, &out);
  s.Finish(&out);
  return out;
}

size_t CompletePrefixLength(std::string_view bytes) {
  // Look back at most 3 bytes for a lead byte whose sequence is not yet complete.
  const size_t n = bytes.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const uint8_t b = static_cast<uint8_t>(bytes[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking
    size_t want = 1;
    if (b >= 0xC0 && b < 0xE0)
      want = 2;
    else if (b >= 0xE0 && b < 0xF0)
      want = 3;
    else if (b >= 0xF0 && b < 0xF8)
      want = 4;
    return want > back ? n - back : n;
  }
  return n;
}

}  // namespace dsv4::tokenizer
