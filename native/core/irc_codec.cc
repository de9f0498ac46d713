#include "irc_codec.h"

#include <sys/time.h>

#include <cstdio>
#include <ctime>

#include "irc_message.h"
#include "text.h"

namespace ep {

void irc_time_tag(std::string* out) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  gmtime_r(&tv.tv_sec, &t);
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "@time=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", t.tm_year + 1900, t.tm_mon + 1,
                        t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, static_cast<int>(tv.tv_usec / 1000));
  out->append(buf, static_cast<size_t>(n));
}

namespace {

void channel(std::string& s, std::string_view room) {
  s.push_back(' ');
  s.push_back('#');
  s.append(room);
}

// The source prefix: the user's nick!user@host, or the server's name.
void source(std::string& s, std::string_view src) {
  s.push_back(':');
  s.append(src.empty() ? std::string_view(kIrcServerName) : src);
  s.push_back(' ');
}

// The body of a line (after its tags) is at most irc::kMaxBody bytes: text from the line protocol
// (up to maxLineBytes) is cut, at a character boundary, to what fits. body: where the body starts in s;
// reserve: bytes still to come after the text.
std::string_view fit(const std::string& s, size_t body, std::string_view t, size_t reserve) {
  size_t used = s.size() - body + reserve;
  return text::utf8_prefix(t, used < irc::kMaxBody ? irc::kMaxBody - used : 0);
}

thread_local size_t g_body = 0;  // engine thread only: the body start of the line being written
thread_local size_t g_line = 0;  // and the line's start (its tags)

void trailing(std::string& s, std::string_view t) {
  s.append(" :");
  size_t at = s.size();
  s.append(fit(s, g_body, t, 0));
  // Text the host wrote (notices, kick reasons) may hold CR, LF or NUL: never a line break on IRC.
  for (size_t i = at; i < s.size(); ++i)
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') s[i] = ' ';
}

// A message's text (PRIVMSG, NOTICE, ACTION): text from the line protocol (up to maxLineBytes) may
// not fit one IRC line, so it is split into as many lines as it takes, each repeating the line's
// start (tags, source, command, target), at a character boundary, at a space in the last quarter of
// the room when there is one (the space becomes the line break). s holds the line's start from
// g_line; act: a CTCP ACTION.
void text_lines(std::string& s, std::string_view t, bool act) {
  const std::string head = s.substr(g_line);
  const size_t extra = act ? 11 : 2;  // " :\x01ACTION " and "\x01", or " :"
  const size_t used = s.size() - g_body + extra;
  const size_t room = used + 4 <= irc::kMaxBody ? irc::kMaxBody - used : 4;  // at least a character
  bool first = true;
  do {
    std::string_view piece = t, rest;
    if (t.size() > room) {
      piece = text::utf8_prefix(t, room);
      // Host text that is not UTF-8 there (only continuation bytes): cut at the byte, so the text
      // always moves on.
      if (piece.empty()) piece = t.substr(0, room);
      size_t sp = piece.rfind(' ');
      if (sp != std::string_view::npos && sp > 0 && sp >= piece.size() - piece.size() / 4) {
        rest = t.substr(sp + 1);
        piece = piece.substr(0, sp);
      } else {
        rest = t.substr(piece.size());
      }
    }
    if (!first) s.append(head);
    first = false;
    s.append(act ? " :\x01" "ACTION " : " :");
    size_t at = s.size();
    s.append(piece);
    // Text the host wrote (notices) may hold CR, LF or NUL: never a line break on IRC.
    for (size_t i = at; i < s.size(); ++i)
      if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') s[i] = ' ';
    if (act) s.push_back('\x01');
    s.append("\r\n");
    t = rest;
  } while (!t.empty());
}

void end(std::string& s) { s.append("\r\n"); }

}  // namespace

Request IrcCodec::parse(std::string_view line) const {
  Request r;
  r.cmd = Cmd::Other;
  r.text = line;
  return r;
}

void IrcCodec::append(const Out& o, std::string& s) const {
  auto tag = [&]() {
    g_line = s.size();
    if (tagged_) irc_time_tag(&s);
    g_body = s.size();
  };
  std::string_view to = o.to.empty() ? std::string_view("*") : o.to;
  switch (o.kind) {
    case OutKind::Prompt:
    case OutKind::Item:
    case OutKind::End:
      return;  // the line protocol's prompt and lists: IRC has its own registration and replies
    case OutKind::Welcome:  // a line user registered in the default room: a JOIN there
    case OutKind::Joined:
      tag(), source(s, o.src), s.append("JOIN"), channel(s, o.b), end(s);
      return;
    case OutKind::Left:
      tag(), source(s, o.src), s.append("PART"), channel(s, o.b);
      if (!o.c.empty()) trailing(s, o.c);
      end(s);
      return;
    case OutKind::Bye:
      tag(), source(s, o.src), s.append("QUIT");
      trailing(s, o.c.empty() ? std::string_view("Quit") : o.c);
      end(s);
      return;
    case OutKind::Renamed:
      tag(), source(s, o.src), s.append("NICK"), trailing(s, o.b), end(s);
      return;
    case OutKind::Chat:
    case OutKind::Action:
      tag(), source(s, o.src), s.append(o.notice ? "NOTICE" : "PRIVMSG"), channel(s, o.b);
      text_lines(s, o.c, o.kind == OutKind::Action);
      return;
    case OutKind::PmFrom:
    case OutKind::PmTo: {
      // To the recipient (PmFrom), or echoed to the sender (PmTo, echo-message): the source is always
      // the sender, the target the recipient. A host's stored message (mailbox) has no src: its sender
      // is a (PmFrom), or the recipient of this copy itself (PmTo).
      std::string_view from = !o.src.empty() ? o.src : o.kind == OutKind::PmFrom ? o.a : to;
      tag(), source(s, from), s.append(o.notice ? "NOTICE " : "PRIVMSG ");
      s.append(o.kind == OutKind::PmFrom ? to : o.a);
      text_lines(s, o.c, o.action);
      return;
    }
    case OutKind::Topic:
      // Cut at TOPICLEN, as ISUPPORT says (a line user may have set a longer one).
      tag(), source(s, o.src), s.append("TOPIC"), channel(s, o.b), trailing(s, text::utf8_prefix(o.c, kIrcTopicLen));
      end(s);
      return;
    case OutKind::Kicked:
      tag(), source(s, o.src), s.append("KICK"), channel(s, o.b);
      s.push_back(' '), s.append(o.d), trailing(s, o.c.empty() ? o.d : o.c), end(s);
      return;
    case OutKind::Away:
      tag(), source(s, o.src), s.append("AWAY");
      if (!o.c.empty()) trailing(s, o.c);
      end(s);
      return;
    case OutKind::Announce:
      // To everyone: one line for all (Server::fanout_all formats it once per codec), its target the
      // server mask "$epchat" (RFC 2812 3.3.1) rather than each recipient's nick.
      tag(), source(s, {}), s.append("NOTICE $"), s.append(kIrcServerName);
      text_lines(s, std::string("[server] ") + std::string(o.c), false);
      return;
    case OutKind::Error: {
      // Errors that end the connection (timeouts, flood, kick, shutdown) are IRC's ERROR; the others
      // (flood warnings, a host command refused) a server NOTICE.
      static constexpr std::string_view kClosing[] = {"REGISTRATION_TIMEOUT", "IDLE_TIMEOUT", "FLOOD_KICK", "KICKED",
                                                      "SHUTDOWN", "INTERNAL_ERROR", "SERVER_FULL"};
      for (std::string_view c : kClosing) {
        if (o.a == c) {
          g_body = s.size();
          s.append("ERROR"), trailing(s, std::string("Closing link: ") + std::string(o.c)), end(s);
          return;
        }
      }
      g_line = g_body = s.size();
      source(s, {}), s.append("NOTICE "), s.append(to), text_lines(s, o.c, false);
      return;
    }
    case OutKind::Notice:
      g_line = g_body = s.size();
      source(s, {}), s.append("NOTICE "), s.append(to), text_lines(s, o.c, false);
      return;
    case OutKind::GroupFrom:
      g_line = g_body = s.size();
      source(s, {}), s.append("NOTICE "), s.append(to);
      text_lines(s, "[@" + std::string(o.b) + " from " + std::string(o.a) + "] " + std::string(o.c), false);
      return;
    case OutKind::Raw: {
      // Text lines the host wrote (mailbox and group notices, account replies): one NOTICE each.
      std::string_view t = o.c;
      while (!t.empty()) {
        size_t nl = t.find('\n');
        std::string_view line = t.substr(0, nl);
        t = nl == std::string_view::npos ? std::string_view() : t.substr(nl + 1);
        while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        g_line = g_body = s.size();
        source(s, {}), s.append("NOTICE "), s.append(to), text_lines(s, line, false);
      }
      return;
    }
  }
}

}  // namespace ep
