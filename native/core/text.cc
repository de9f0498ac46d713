#include "text.h"

#include <cstdint>

namespace ep::text {

namespace {

bool is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

}  // namespace

Check check_line(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  bool control = false;
  bool spoof = false;
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t') || c == 0x7F) control = true;
      ++p;
      continue;
    }
    size_t need;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      cp = c & 0x07;
    } else {
      return Check::BadUtf8;  // continuation byte, overlong lead (C0/C1) or > U+10FFFF lead
    }
    if (static_cast<size_t>(end - p) <= need) return Check::BadUtf8;
    for (size_t i = 1; i <= need; ++i) {
      if (!is_cont(p[i])) return Check::BadUtf8;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return Check::BadUtf8;
    if (cp >= 0x80 && cp <= 0x9F) control = true;
    if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029)
      spoof = true;
    p += need + 1;
  }
  return control ? Check::ControlChar : spoof ? Check::Spoof : Check::Ok;
}

std::string_view strip_bom(std::string_view s) {
  if (s.size() >= 3 && s.compare(0, 3, "\xEF\xBB\xBF") == 0) s.remove_prefix(3);
  return s;
}

bool blank(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c == ' ' || c == '\t') {
      ++p;
      continue;
    }
    if (c < 0x80) return false;
    // Multi-byte: decode (s was checked by check_line, so the sequence is complete and valid).
    size_t need = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
    if (static_cast<size_t>(end - p) <= need) return false;
    uint32_t cp = c & (need == 1 ? 0x1F : need == 2 ? 0x0F : 0x07);
    for (size_t i = 1; i <= need; ++i) cp = (cp << 6) | (p[i] & 0x3F);
    bool invisible = cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200D) || cp == 0x202F ||
                     cp == 0x205F || cp == 0x2060 || cp == 0x3000 || cp == 0xFEFF || cp == 0x2800 ||
                     cp == 0x115F || cp == 0x1160 || cp == 0x3164 || cp == 0xFFA0;
    if (!invisible) return false;
    p += need + 1;
  }
  return true;
}

bool valid_nick(std::string_view s, size_t max_len) {
  if (s.empty() || s.size() > max_len) return false;
  char c = s[0];
  if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')) return false;
  for (char ch : s)
    if (!name_char(ch)) return false;
  return true;
}

bool valid_room(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char ch : s)
    if (!name_char(ch)) return false;
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string seconds(uint64_t ms) {
  std::string out = std::to_string(ms / 1000);
  if (uint64_t frac = ms % 1000) {
    std::string f = std::to_string(1000 + frac).substr(1);  // three digits
    while (f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out + " s";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void split_word(std::string_view s, std::string_view* word, std::string_view* rest) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  size_t sp = s.find_first_of(" \t");
  if (sp == std::string_view::npos) {
    *word = s;
    *rest = {};
    return;
  }
  *word = s.substr(0, sp);
  *rest = s.substr(sp + 1);
}

std::string_view utf8_prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max;
  // Back up over continuation bytes to the start of the sequence that straddles the cut.
  while (end > 0 && (static_cast<uint8_t>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

}  // namespace ep::text
