#include "termkeys.h"

namespace ep {

namespace {

constexpr unsigned char kEsc = 0x1B;
constexpr unsigned char kBel = 0x07;

// Index just past a CSI body starting at i (parameters and intermediates 0x20-0x3F, then one final
// byte 0x40-0x7E); stops early at anything else, which is left for the caller.
size_t skip_csi(std::string_view s, size_t i) {
  while (i < s.size() && static_cast<unsigned char>(s[i]) >= 0x20 && static_cast<unsigned char>(s[i]) <= 0x3F) ++i;
  if (i < s.size() && static_cast<unsigned char>(s[i]) >= 0x40 && static_cast<unsigned char>(s[i]) <= 0x7E) ++i;
  return i;
}

// Index just past a control string (OSC, DCS, PM, APC, SOS) starting at i: up to BEL or ESC '\'.
size_t skip_string(std::string_view s, size_t i) {
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == kBel) return i + 1;
    if (c == kEsc) return i + 1 < s.size() && s[i + 1] == '\\' ? i + 2 : i + 1;
    ++i;
  }
  return i;
}

}  // namespace

std::string strip_terminal_keys(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == kEsc) {
      if (i + 1 >= s.size()) break;  // a lone ESC at the end
      char k = s[i + 1];
      if (k == '[') i = skip_csi(s, i + 2);
      else if (k == 'O') i = i + 3 <= s.size() ? i + 3 : s.size();  // SS3: one more byte (F1-F4, keypad)
      else if (k == ']' || k == 'P' || k == '^' || k == '_' || k == 'X') i = skip_string(s, i + 2);
      else i += 2;  // Alt-x, or any other two-byte escape
      continue;
    }
    if (c < 0x20 && c != '\t') {
      ++i;
      continue;
    }
    if (c == 0x7F) {
      ++i;
      continue;
    }
    // C1 controls, as UTF-8: U+0080-U+009F is C2 80 - C2 9F. U+009B is CSI.
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      bool csi = static_cast<unsigned char>(s[i + 1]) == 0x9B;
      i += 2;
      if (csi) i = skip_csi(s, i);
      continue;
    }
    out.push_back(static_cast<char>(c));
    ++i;
  }
  return out;
}

}  // namespace ep
