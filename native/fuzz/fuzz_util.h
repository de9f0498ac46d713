// Helpers shared by the fuzz targets: a check that aborts loudly (in libFuzzer and in the replay
// driver alike), a tiny deterministic byte source, and an independent UTF-8 decoder used as the
// oracle for text::check_line and for everything the server writes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond, ...)                                                           \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                \
      std::fprintf(stderr, "\n");                                                       \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

namespace fuzz {

// Reads bytes off the front of the input; zeros once exhausted (never fails).
struct Bytes {
  const uint8_t* p;
  size_t n;
  uint8_t u8() {
    if (!n) return 0;
    --n;
    return *p++;
  }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
};

// Chunk sizes for splitting a stream: derived from a few seed bytes, cycled, 1..64 (and now and
// then large), so the same input always splits the same way.
struct Chunker {
  uint8_t seed[4] = {1, 1, 1, 1};
  size_t i = 0;
  size_t next() {
    uint8_t s = seed[i++ % 4];
    if (s >= 0xF0) return 4096 + (s - 0xF0) * 1024;  // sometimes one large write
    return 1 + (s & 0x3F);
  }
};

enum class Verdict { Ok, BadUtf8, Control, Spoof };

// The code points no client line may carry (Trojan Source): bidirectional embeddings, overrides and
// isolates, and the line and paragraph separators. Listed one by one, on purpose.
inline bool spoof_code_point(uint32_t cp) {
  static const uint32_t kSpoof[] = {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066,
                                    0x2067, 0x2068, 0x2069, 0x2028, 0x2029};
  for (uint32_t x : kSpoof)
    if (cp == x) return true;
  return false;
}

// Their UTF-8 encodings, to look for in accepted lines and in what the server writes.
inline bool has_spoof_sequence(std::string_view s) {
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    uint8_t a = static_cast<uint8_t>(s[i]), b = static_cast<uint8_t>(s[i + 1]), c = static_cast<uint8_t>(s[i + 2]);
    if (a == 0xE2 && b == 0x80 && (c == 0xA8 || c == 0xA9 || (c >= 0xAA && c <= 0xAE))) return true;
    if (a == 0xE2 && b == 0x81 && c >= 0xA6 && c <= 0xA9) return true;
  }
  return false;
}

// Independent strict UTF-8 decoding: lengths from the lead byte's high bits, then the code point
// must be in the range that length encodes (no overlongs), not a surrogate, at most U+10FFFF.
// Control: C0 other than tab, DEL, C1. Spoof: spoof_code_point. Bad UTF-8 wins over a control
// character, which wins over Spoof.
inline Verdict classify(std::string_view s) {
  bool control = false;
  bool spoof = false;
  size_t i = 0;
  while (i < s.size()) {
    uint8_t b = static_cast<uint8_t>(s[i]);
    int len;
    uint32_t cp;
    if ((b & 0x80) == 0) { len = 1; cp = b; }
    else if ((b & 0xE0) == 0xC0) { len = 2; cp = b & 0x1F; }
    else if ((b & 0xF0) == 0xE0) { len = 3; cp = b & 0x0F; }
    else if ((b & 0xF8) == 0xF0) { len = 4; cp = b & 0x07; }
    else return Verdict::BadUtf8;
    if (i + static_cast<size_t>(len) > s.size()) return Verdict::BadUtf8;
    for (int k = 1; k < len; ++k) {
      uint8_t c = static_cast<uint8_t>(s[i + static_cast<size_t>(k)]);
      if ((c & 0xC0) != 0x80) return Verdict::BadUtf8;
      cp = (cp << 6) | (c & 0x3F);
    }
    static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return Verdict::BadUtf8;
    if ((cp < 0x20 && cp != 0x09) || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) control = true;
    if (spoof_code_point(cp)) spoof = true;
    i += static_cast<size_t>(len);
  }
  return control ? Verdict::Control : spoof ? Verdict::Spoof : Verdict::Ok;
}

inline bool has_forbidden_byte(std::string_view s) {
  for (char ch : s) {
    uint8_t b = static_cast<uint8_t>(ch);
    if (b <= 0x08 || (b >= 0x0A && b <= 0x1F) || b == 0x7F) return true;
  }
  return false;
}

// The nick grammar, up to 255 characters (the largest nickMaxLength; a host login may use it).
inline bool nick_syntax(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool more = (c >= '0' && c <= '9') || c == '-';
    if (!(alpha || (i > 0 && more))) return false;
  }
  return true;
}

// A printable rendering of a few bytes for failure messages.
inline void dump(std::string_view s, char* out, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < s.size() && o + 5 < n; ++i) {
    uint8_t b = static_cast<uint8_t>(s[i]);
    if (b >= 0x20 && b < 0x7F && b != '\\') out[o++] = static_cast<char>(b);
    else o += static_cast<size_t>(std::snprintf(out + o, n - o, "\\x%02x", b));
  }
  out[o < n ? o : n - 1] = '\0';
}

}  // namespace fuzz
