#include "irc_message.h"

namespace ep::irc {

namespace {

bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); }
char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

void skip_spaces(std::string_view* s) {
  size_t i = 0;
  while (i < s->size() && (*s)[i] == ' ') ++i;
  s->remove_prefix(i);
}

// Takes the word up to the next space (or the end) off *s.
std::string_view take_word(std::string_view* s) {
  size_t sp = s->find(' ');
  std::string_view w = s->substr(0, sp);
  s->remove_prefix(sp == std::string_view::npos ? s->size() : sp);
  return w;
}

bool valid_command(std::string_view c) {
  if (c.empty()) return false;
  if (is_digit(c[0])) return c.size() == 3 && is_digit(c[1]) && is_digit(c[2]);
  for (char ch : c)
    if (!is_alpha(ch)) return false;
  return true;
}

// A vendor is a host name: labels of letters, digits and '-', separated by dots.
bool valid_vendor(std::string_view v) {
  if (v.empty()) return false;
  bool label_empty = true;
  for (char c : v) {
    if (c == '.') {
      if (label_empty) return false;
      label_empty = true;
    } else if (is_alpha(c) || is_digit(c) || c == '-') {
      label_empty = false;
    } else {
      return false;
    }
  }
  return !label_empty;
}

}  // namespace

const char* error_name(ParseError e) {
  switch (e) {
    case ParseError::None: return "none";
    case ParseError::Empty: return "empty";
    case ParseError::BadByte: return "bad byte";
    case ParseError::TagsTooLong: return "tags too long";
    case ParseError::BadTags: return "bad tags";
    case ParseError::BodyTooLong: return "line too long";
    case ParseError::NoCommand: return "no command";
    case ParseError::BadCommand: return "bad command";
  }
  return "?";
}

ParseError parse(std::string_view line, Message* m) {
  *m = Message{};
  for (char c : line)
    if (c == '\0' || c == '\r' || c == '\n') return ParseError::BadByte;
  std::string_view s = line;
  skip_spaces(&s);
  if (s.empty()) return ParseError::Empty;
  if (s[0] == '@') {
    size_t sp = s.find(' ');
    size_t len = sp == std::string_view::npos ? s.size() : sp + 1;  // '@' … and its space
    if (len > kMaxClientTags) return ParseError::TagsTooLong;
    m->tags = s.substr(1, (sp == std::string_view::npos ? s.size() : sp) - 1);
    if (m->tags.empty()) return ParseError::BadTags;
    std::string_view rest = m->tags;
    Tag t;
    while (next_tag(&rest, &t))
      if (!valid_tag_key(t.key)) return ParseError::BadTags;
    s.remove_prefix(len > s.size() ? s.size() : len);
    skip_spaces(&s);
    if (s.empty()) return ParseError::NoCommand;
  }
  if (s.size() > kMaxBody) return ParseError::BodyTooLong;
  if (s[0] == ':') {
    s.remove_prefix(1);
    m->source = take_word(&s);
    skip_spaces(&s);
    if (s.empty()) return ParseError::NoCommand;
  }
  m->command = take_word(&s);
  if (!valid_command(m->command)) return ParseError::BadCommand;
  for (;;) {
    skip_spaces(&s);
    if (s.empty()) break;
    if (s[0] == ':') {
      m->params[m->nparams++] = s.substr(1);
      m->has_trailing = true;
      break;
    }
    if (m->nparams == kMaxParams - 1) {
      // RFC 2812: after 14 middles, the rest is the last parameter even without ':'.
      m->params[m->nparams++] = s;
      m->has_trailing = true;
      break;
    }
    m->params[m->nparams++] = take_word(&s);
  }
  return ParseError::None;
}

bool command_is(std::string_view cmd, std::string_view up) {
  if (cmd.size() != up.size()) return false;
  for (size_t i = 0; i < cmd.size(); ++i)
    if (upper(cmd[i]) != up[i]) return false;
  return true;
}

bool next_tag(std::string_view* rest, Tag* t) {
  while (!rest->empty() && (*rest)[0] == ';') rest->remove_prefix(1);  // empty tags are skipped
  if (rest->empty()) return false;
  size_t semi = rest->find(';');
  std::string_view item = rest->substr(0, semi);
  rest->remove_prefix(semi == std::string_view::npos ? rest->size() : semi + 1);
  size_t eq = item.find('=');
  t->key = item.substr(0, eq);
  t->has_value = eq != std::string_view::npos;
  t->value = t->has_value ? item.substr(eq + 1) : std::string_view();
  return true;
}

bool valid_tag_key(std::string_view key) {
  if (!key.empty() && key[0] == '+') key.remove_prefix(1);
  size_t slash = key.rfind('/');
  if (slash != std::string_view::npos) {
    if (!valid_vendor(key.substr(0, slash))) return false;
    key.remove_prefix(slash + 1);
  }
  if (key.empty()) return false;
  for (char c : key)
    if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
  return true;
}

std::string unescape_tag_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i == v.size()) break;  // a lone trailing backslash is dropped
    switch (v[i]) {
      case ':': out.push_back(';'); break;
      case 's': out.push_back(' '); break;
      case 'r': out.push_back('\r'); break;
      case 'n': out.push_back('\n'); break;
      default: out.push_back(v[i]); break;  // "\\" and any other escaped character
    }
  }
  return out;
}

void escape_tag_value(std::string_view v, std::string* out) {
  for (char c : v) {
    switch (c) {
      case ';': out->append("\\:"); break;
      case ' ': out->append("\\s"); break;
      case '\\': out->append("\\\\"); break;
      case '\r': out->append("\\r"); break;
      case '\n': out->append("\\n"); break;
      default: out->push_back(c); break;
    }
  }
}

bool valid_middle(std::string_view p) {
  if (p.empty() || p[0] == ':') return false;
  for (char c : p)
    if (c == ' ' || c == '\0' || c == '\r' || c == '\n') return false;
  return true;
}

Writer& Writer::tag(std::string_view key, std::string_view value) {
  out_->push_back(in_tags_ ? ';' : '@');
  in_tags_ = true;
  out_->append(key);
  if (!value.empty()) {
    out_->push_back('=');
    escape_tag_value(value, out_);
  }
  return *this;
}

void Writer::close_tags() {
  if (!in_tags_) return;
  out_->push_back(' ');
  in_tags_ = false;
}

Writer& Writer::source(std::string_view s) {
  close_tags();
  out_->push_back(':');
  out_->append(s);
  out_->push_back(' ');
  return *this;
}

Writer& Writer::command(std::string_view c) {
  close_tags();
  out_->append(c);
  return *this;
}

Writer& Writer::param(std::string_view p) {
  out_->push_back(' ');
  out_->append(p);
  return *this;
}

Writer& Writer::trailing(std::string_view p) {
  out_->append(" :");
  out_->append(p);
  return *this;
}

void Writer::end() {
  close_tags();
  out_->append("\r\n");
}

bool ctcp_action(std::string_view text, std::string_view* action) {
  constexpr std::string_view kAction = "\x01" "ACTION";
  if (text.substr(0, kAction.size()) != kAction) return false;
  std::string_view rest = text.substr(kAction.size());
  if (!rest.empty() && rest.back() == '\x01') rest.remove_suffix(1);
  if (!rest.empty()) {
    if (rest[0] != ' ') return false;  // "\x01ACTIONS…" is another command
    rest.remove_prefix(1);
  }
  *action = rest;
  return true;
}

namespace {

bool is_format_code(char c) {
  switch (c) {
    case '\x02': case '\x03': case '\x04': case '\x0F': case '\x11':
    case '\x16': case '\x1D': case '\x1E': case '\x1F':
      return true;
    default:
      return false;
  }
}

// Length of the colour arguments after ^C: fg of 1-2 digits, then ",bg" of 1-2 digits if present.
size_t colour_args(std::string_view s) {
  size_t i = 0;
  auto digits = [&](size_t at) {
    size_t n = 0;
    while (n < 2 && at + n < s.size() && is_digit(s[at + n])) ++n;
    return n;
  };
  size_t fg = digits(0);
  if (!fg) return 0;
  i = fg;
  if (i + 1 < s.size() && s[i] == ',') {
    size_t bg = digits(i + 1);
    if (bg) i += 1 + bg;
  }
  return i;
}

// The same after ^D, with six hex digits each.
size_t hex_colour_args(std::string_view s) {
  auto hex6 = [&](size_t at) {
    if (at + 6 > s.size()) return false;
    for (size_t k = 0; k < 6; ++k)
      if (!is_hex(s[at + k])) return false;
    return true;
  };
  if (!hex6(0)) return 0;
  if (s.size() >= 8 && s[6] == ',' && hex6(7)) return 13;
  return 6;
}

}  // namespace

bool has_formatting(std::string_view text) {
  for (char c : text)
    if (is_format_code(c)) return true;
  return false;
}

std::string strip_formatting(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (!is_format_code(c)) {
      out.push_back(c);
      continue;
    }
    if (c == '\x03') i += colour_args(text.substr(i + 1));
    else if (c == '\x04') i += hex_colour_args(text.substr(i + 1));
  }
  return out;
}

}  // namespace ep::irc
