#include "tokenizer/unicode_classes.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdint>
#include <cstdio>
#include <utility>
#include <vector>

#include "tokenizer/utf8.h"

namespace dsv4::tokenizer {

namespace {

struct Class {
  char name;
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
};

const std::vector<Class>& Classes() {
#define DSV4_UNICODE_VERSION_IS(version)
#define DSV4_UNICODE_CLASS(letter, ...) Class{letter, __VA_ARGS__},
  static const std::vector<Class> classes = {
#include "tokenizer/unicode_classes.inc"
  };
#undef DSV4_UNICODE_CLASS
#undef DSV4_UNICODE_VERSION_IS
  return classes;
}

const Class* Find(char name) {
  for (const Class& c : Classes()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;

// "\x{41}-\x{5A}\x{61}-..." (no brackets).
std::string RangeText(const Ranges& ranges) {
  std::string out;
  char buf[40];
  for (const auto& [a, b] : ranges) {
    if (a == b) {
      std::snprintf(buf, sizeof(buf), "\\x{%X}", a);
    } else {
      std::snprintf(buf, sizeof(buf), "\\x{%X}-\\x{%X}", a, b);
    }
    out += buf;
  }
  return out;
}

// Every code point (surrogates excluded), UTF-8, in order.
const std::string& AllCodePoints() {
  static const std::string* all = [] {
    auto* s = new std::string();
    s->reserve(4500000);
    for (uint32_t cp = 0; cp < 0x110000; ++cp) {
      if (cp < 0xD800 || cp > 0xDFFF) AppendUtf8(cp, s);
    }
    return s;
  }();
  return *all;
}

// The code points PCRE2's own `\p{X}` matches (empty + ok=false if it does not compile).
std::vector<uint32_t> NativeClass(char name, bool* ok) {
  std::vector<uint32_t> out;
  // Runs (few matches).
  const std::string pattern = name == 's' ? std::string("\\s+") : std::string("\\p{") + name + "}+";
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &err, &err_offset, nullptr);
  *ok = code != nullptr;
  if (code == nullptr) return out;
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  const std::string& all = AllCodePoints();
  const auto* subj = reinterpret_cast<PCRE2_SPTR>(all.data());
  size_t pos = 0;
  while (pos < all.size() &&
         pcre2_match(code, subj, all.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr) >= 0) {
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const auto* b = reinterpret_cast<const uint8_t*>(all.data());
    for (size_t i = ov[0]; i < ov[1];) {  // decode the run
      uint32_t cp = b[i];
      size_t len = 1;
      if (cp >= 0xF0) {
        cp = ((b[i] & 0x07) << 18) | ((b[i + 1] & 0x3F) << 12) | ((b[i + 2] & 0x3F) << 6) |
             (b[i + 3] & 0x3F);
        len = 4;
      } else if (cp >= 0xE0) {
        cp = ((b[i] & 0x0F) << 12) | ((b[i + 1] & 0x3F) << 6) | (b[i + 2] & 0x3F);
        len = 3;
      } else if (cp >= 0xC0) {
        cp = ((b[i] & 0x1F) << 6) | (b[i + 1] & 0x3F);
        len = 2;
      }
      out.push_back(cp);
      i += len;
    }
    pos = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
  }
  pcre2_match_data_free(md);
  pcre2_code_free(code);
  return out;
}

Ranges ToRanges(const std::vector<uint32_t>& cps) {
  Ranges r;
  for (uint32_t cp : cps) {
    if (!r.empty() && r.back().second + 1 == cp) {
      r.back().second = cp;
    } else {
      r.emplace_back(cp, cp);
    }
  }
  return r;
}

// What replaces \p{X}: PCRE2's own class plus the code points the pinned table adds,
// when PCRE2's class is a subset of the pinned one (then JIT keeps its fast property
// test); otherwise the pinned ranges alone (exact, slower). Computed once per process by
// scanning all code points with PCRE2 itself (~100 ms).
struct Replacement {
  std::string inside;  // text to put inside [...]
};

struct Tables {
  std::vector<std::pair<char, Replacement>> replacements;
  std::vector<uint64_t> differs;  // bitmap: code points where PCRE2's class != pinned class
};

const Tables& GetTables() {
  static const Tables* tables = [] {
    auto* t = new Tables();
    t->differs.assign(0x110000 / 64, 0);
    for (const Class& c : Classes()) {
      Replacement rep;
      bool ok = false;
      const std::vector<uint32_t> native = NativeClass(c.name, &ok);
      std::vector<uint32_t> extra;  // pinned, not native
      bool native_is_subset = ok;
      auto mark = [&](uint32_t cp) { t->differs[cp / 64] |= uint64_t{1} << (cp % 64); };
      size_t n = 0;
      for (const auto& [a, b] : c.ranges) {
        for (uint32_t cp = a; cp <= b; ++cp) {
          if (cp >= 0xD800 && cp <= 0xDFFF) continue;
          while (n < native.size() && native[n] < cp) {
            native_is_subset = false;  // native has a code point the pinned class lacks
            mark(native[n++]);
          }
          if (n < native.size() && native[n] == cp) {
            ++n;
          } else {
            extra.push_back(cp);
            mark(cp);
          }
        }
      }
      for (; n < native.size(); ++n) {
        native_is_subset = false;
        mark(native[n]);
      }
      if (!ok) {  // cannot compare: every code point of the class counts as different
        for (const auto& [a, b] : c.ranges) {
          for (uint32_t cp = a; cp <= b; ++cp) mark(cp);
        }
      }
      // \s is pinned outright (its definition differs, not only its version).
      rep.inside = native_is_subset && c.name != 's'
                       ? std::string("\\p{") + c.name + "}" + RangeText(ToRanges(extra))
                       : RangeText(c.ranges);
      t->replacements.emplace_back(c.name, rep);
    }
    return t;
  }();
  return *tables;
}

const Replacement& ReplacementFor(const Class& cls) {
  for (const auto& [name, rep] : GetTables().replacements) {
    if (name == cls.name) return rep;
  }
  static const Replacement none;
  return none;
}

}  // namespace

bool NeedsPinnedClasses(std::string_view text) {
  const std::vector<uint64_t>& differs = GetTables().differs;
  const auto* b = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    if (b[i] < 0x80) {
      ++i;
      continue;
    }
    uint32_t cp;
    size_t len;
    if (b[i] >= 0xF0 && i + 3 < n) {
      cp = ((b[i] & 0x07) << 18) | ((b[i + 1] & 0x3F) << 12) | ((b[i + 2] & 0x3F) << 6) |
           (b[i + 3] & 0x3F);
      len = 4;
    } else if (b[i] >= 0xE0 && i + 2 < n) {
      cp = ((b[i] & 0x0F) << 12) | ((b[i + 1] & 0x3F) << 6) | (b[i + 2] & 0x3F);
      len = 3;
    } else if (b[i] >= 0xC0 && i + 1 < n) {
      cp = ((b[i] & 0x1F) << 6) | (b[i + 1] & 0x3F);
      len = 2;
    } else {
      ++i;  // a stray byte: matches no class either way
      continue;
    }
    // Ill-formed sequences may decode to anything; checking them too is harmless.
    if (cp < 0x110000 && (differs[cp / 64] >> (cp % 64) & 1)) return true;
    i += len;
  }
  return false;
}

const char* PinnedUnicodeVersion() {
#define DSV4_UNICODE_VERSION_IS(version) return version;
#define DSV4_UNICODE_CLASS(letter, ...)
#include "tokenizer/unicode_classes.inc"
#undef DSV4_UNICODE_CLASS
#undef DSV4_UNICODE_VERSION_IS
}

std::string ExpandUnicodeClasses(std::string_view p) {
  std::string out;
  bool in_class = false;
  size_t class_start = 0;  // index just after '[' (or "[^") of the current class
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[i + 1];
      // \p{X} / \P{X} with a one-letter general category we pin.
      if ((e == 'p' || e == 'P') && i + 4 < p.size() && p[i + 2] == '{' && p[i + 4] == '}') {
        const Class* cls = Find(p[i + 3]);
        if (cls != nullptr && cls->name != 's' && (e == 'p' || !in_class)) {
          const std::string& r = ReplacementFor(*cls).inside;
          out += in_class ? r : (e == 'p' ? "[" + r + "]" : "[^" + r + "]");
          i += 4;
          continue;
        }
      }
      if (e == 's' || (e == 'S' && !in_class)) {
        const std::string& r = ReplacementFor(*Find('s')).inside;
        out += in_class ? r : (e == 's' ? "[" + r + "]" : "[^" + r + "]");
        ++i;
        continue;
      }
      out += c;
      out += e;
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      if (i + 1 < p.size() && p[i + 1] == '^') {
        out += '^';
        ++i;
      }
      class_start = i + 1;
      continue;
    }
    // A ']' right at the start of a class is a literal.
    if (in_class && c == ']' && i != class_start) in_class = false;
    out += c;
  }
  return out;
}

}  // namespace dsv4::tokenizer
