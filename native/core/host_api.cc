#include "host_api.h"

#include <string_view>

#include "text.h"

namespace ep {

namespace {

// One line of text for people: valid UTF-8, no control characters (may be empty).
bool clean(std::string_view s) { return text::check_line(s) == text::Check::Ok; }

// A word: non-empty, clean, no blank (it is one column of a line).
bool word(std::string_view s) { return !s.empty() && clean(s) && s.find_first_of(" \t") == std::string_view::npos; }

// A code or a kind: A-Z 0-9 _, starting with a letter, at most 32.
bool upper_name(std::string_view s) {
  if (s.empty() || s.size() > 32 || s[0] < 'A' || s[0] > 'Z') return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

struct Check {
  std::string* field;
  const char* operator()(const line::Notice& l) const { return clean(l.text) ? nullptr : bad("text", kText); }
  const char* operator()(const line::Error& l) const {
    if (!upper_name(l.code)) return bad("code", kName);
    return clean(l.text) ? nullptr : bad("text", kText);
  }
  const char* operator()(const line::List& l) const {
    if (!upper_name(l.kind)) return bad("kind", kName);
    if (!l.end.empty() && !upper_name(l.end)) return bad("end", kName);
    for (size_t i = 0; i < l.rows.size(); ++i) {
      const auto& row = l.rows[i];
      if (row.empty()) return bad("rows[" + std::to_string(i) + "]", "a row must have at least one field");
      for (size_t j = 0; j < row.size(); ++j) {
        // Every field but the last is one column; the last may be text with blanks.
        bool ok = j + 1 < row.size() ? word(row[j]) : !row[j].empty() && clean(row[j]);
        if (!ok)
          return bad("rows[" + std::to_string(i) + "][" + std::to_string(j) + "]",
                     j + 1 < row.size() ? kWord : "a field must be non-empty text (valid UTF-8, no control characters)");
      }
    }
    return nullptr;
  }
  const char* operator()(const line::Pm& l) const {
    if (!word(l.from)) return bad("from", kWord);
    return clean(l.text) ? nullptr : bad("text", kText);
  }
  const char* operator()(const line::PmSent& l) const {
    if (!word(l.to)) return bad("to", kWord);
    return clean(l.text) ? nullptr : bad("text", kText);
  }
  const char* operator()(const line::Group& l) const {
    if (!word(l.from)) return bad("from", kWord);
    if (!word(l.group)) return bad("group", kWord);
    return clean(l.text) ? nullptr : bad("text", kText);
  }

  static constexpr const char* kText = "one line of text (valid UTF-8, no control characters)";
  static constexpr const char* kName = "1-32 of A-Z 0-9 _ starting with a letter";
  static constexpr const char* kWord = "one word (non-empty, no blanks, no control characters)";
  const char* bad(std::string name, const char* why) const {
    if (field) *field = std::move(name);
    return why;
  }
};

}  // namespace

const char* host_line_problem(const HostLine& l, std::string* field) { return std::visit(Check{field}, l); }

}  // namespace ep
