#include "line_codec.h"

#include "irc_message.h"
#include "text.h"

namespace ep {

namespace {

struct Word {
  const char* name;
  Cmd cmd;
};

constexpr Word kCommands[] = {
    {"nick", Cmd::Nick},   {"help", Cmd::Help},   {"rooms", Cmd::Rooms}, {"create", Cmd::Create},
    {"join", Cmd::Join},   {"leave", Cmd::Leave}, {"part", Cmd::Leave},  {"users", Cmd::Users},
    {"who", Cmd::Who},     {"msg", Cmd::Msg},     {"pm", Cmd::Msg},      {"me", Cmd::Me},
    {"quit", Cmd::Quit},   {"stats", Cmd::Stats},
};

bool ieq(std::string_view a, const char* b) {
  size_t i = 0;
  for (; i < a.size() && b[i]; ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != b[i]) return false;
  }
  return i == a.size() && b[i] == '\0';
}

std::string_view strip_hash(std::string_view room) {
  if (!room.empty() && room[0] == '#') room.remove_prefix(1);
  return room;
}

}  // namespace

Request LineCodec::parse(std::string_view line) const {
  Request r;
  if (line.empty() || line[0] != '/' || (line.size() >= 2 && line[1] == '/')) {
    r.cmd = Cmd::Text;
    r.text = line.empty() || line[0] != '/' ? line : line.substr(1);
    return r;
  }
  std::string_view word, rest;
  r.cmd = Cmd::Other;
  if (line.size() == 1 || line[1] == ' ' || line[1] == '\t') {
    r.text = line.substr(1);  // "/ msg" is no command: name stays empty
    return r;
  }
  text::split_word(line.substr(1), &word, &rest);
  r.name = word;
  r.text = rest;
  for (const Word& w : kCommands) {
    if (ieq(word, w.name)) {
      r.cmd = w.cmd;
      break;
    }
  }
  switch (r.cmd) {
    case Cmd::Nick:
      r.arg = text::trim(rest);
      break;
    case Cmd::Create:
    case Cmd::Join:
      r.arg = strip_hash(text::trim(rest));
      break;
    case Cmd::Msg:
      text::split_word(rest, &r.arg, &r.text);
      break;
    case Cmd::Me:
    case Cmd::Quit:
      r.text = text::trim(rest);
      break;
    default:
      break;
  }
  return r;
}

void LineCodec::append(const Out& o, std::string& s) const {
  auto add = [&s](std::string_view v) { s.append(v.data(), v.size()); };
  // Text that came from an IRC user may hold IRC formatting codes (the only control bytes an IRC line
  // may carry into the chat): a line user never gets them raw.
  std::string clean;
  auto text = [&](std::string_view v) -> std::string_view {
    if (!irc::has_formatting(v) && v.find('\x01') == std::string_view::npos) return v;
    clean = irc::strip_formatting(v);
    std::string::size_type w = 0;
    for (char ch : clean)
      if (ch != '\x01') clean[w++] = ch;  // CTCP's delimiter
    clean.resize(w);
    return clean;
  };
  switch (o.kind) {
    case OutKind::Prompt:
      add(">> Enter pseudo:");
      break;
    case OutKind::Welcome:
      add(">> Welcome "), add(o.a), add(" !");
      break;
    case OutKind::Bye:
      add(">> Bye "), add(o.a), add(" !");
      if (!o.c.empty()) add(" ("), add(text(o.c)), add(")");
      break;
    case OutKind::Joined:
      add(">> "), add(o.a), add(" joined "), add(o.b);
      break;
    case OutKind::Left:
      add(">> "), add(o.a), add(" left "), add(o.b);
      break;
    case OutKind::Renamed:
      add(">> "), add(o.a), add(" is now known as "), add(o.b);
      break;
    case OutKind::Chat:
      add(o.a), add(": "), add(text(o.c));
      break;
    case OutKind::Action:
      add("* "), add(o.a), add(" "), add(text(o.c));
      break;
    case OutKind::PmFrom:
      add("[pm from "), add(o.a), add("] ");
      if (o.action) add("* "), add(o.a), add(" ");
      add(text(o.c));
      break;
    case OutKind::PmTo:
      add("[pm to "), add(o.a), add("] "), add(text(o.c));
      break;
    case OutKind::Announce:
      add(">> [server] "), add(o.c);
      break;
    case OutKind::Error:
      add("!! "), add(o.a), add(" "), add(o.c);
      break;
    case OutKind::Item:
      add("== "), add(o.a);
      if (o.fields) {
        for (const std::string& f : *o.fields) add(" "), add(f);
        break;
      }
      if (!o.b.empty()) add(" "), add(o.b);
      add(" "), add(o.c);
      break;
    case OutKind::End:
      add("== END "), add(o.a), add(" "), add(std::to_string(o.n));
      break;
    case OutKind::Raw:
      add(o.c);
      break;
    case OutKind::Topic:
      if (o.c.empty()) add(">> "), add(o.a), add(" cleared the topic of "), add(o.b);
      else add(">> "), add(o.a), add(" set the topic of "), add(o.b), add(": "), add(text(o.c));
      break;
    case OutKind::Kicked:
      add(">> "), add(o.d), add(" was kicked from "), add(o.b), add(" by "), add(o.a);
      if (!o.c.empty()) add(" ("), add(text(o.c)), add(")");
      break;
    case OutKind::Away:
      return;  // IRC only
    case OutKind::Notice:
      add(">> "), add(o.c);
      break;
    case OutKind::GroupFrom:
      add("[@"), add(o.b), add(" from "), add(o.a), add("] "), add(o.c);
      break;
  }
  s.push_back('\n');
}

}  // namespace ep
