#include "irc_caps.h"

#include <cstdlib>

namespace ep::irc {

namespace {

constexpr CapInfo kCaps[] = {
    {kCapAwayNotify, "away-notify", nullptr},
    {kCapCapNotify, "cap-notify", nullptr},
    {kCapEchoMessage, "echo-message", nullptr},
    {kCapMessageTags, "message-tags", nullptr},
    {kCapMultiPrefix, "multi-prefix", nullptr},
    {kCapSasl, "sasl", "PLAIN"},
    {kCapServerTime, "server-time", nullptr},
    {kCapUserhostInNames, "userhost-in-names", nullptr},
};

void cap_line(std::string_view server, std::string_view nick, std::string_view sub, std::string_view list,
              std::string* out) {
  // An ACK or NAK echoes the client's list, which may fill its own 510 bytes: with our prefix the
  // echo would pass the limit. Cut it after the last whole name that fits (a list that long names
  // capabilities nobody offers, so it is a NAK; found by fuzz_session).
  const size_t fixed = 1 + server.size() + 5 + nick.size() + 1 + sub.size() + 2;  // ":srv CAP nick SUB :"
  if (fixed + list.size() > kMaxBody) {
    list = list.substr(0, kMaxBody > fixed ? kMaxBody - fixed : 0);
    size_t sp = list.rfind(' ');
    list = list.substr(0, sp == std::string_view::npos ? 0 : sp);
  }
  Writer(out).source(server).command("CAP").param(nick).param(sub).trailing(list).end();
}

}  // namespace

const CapInfo* caps_offered(size_t* n) {
  *n = sizeof kCaps / sizeof kCaps[0];
  return kCaps;
}

const CapInfo* find_cap(std::string_view name) {
  for (const CapInfo& c : kCaps)
    if (name == c.name) return &c;
  return nullptr;
}

void CapNegotiation::handle(const Message& m, std::string_view server, std::string_view nick, std::string* out) {
  if (m.nparams < 1) {
    Writer(out).source(server).command("461").param(nick).param("CAP").trailing("Not enough parameters").end();
    return;
  }
  std::string_view sub = m.params[0];
  if (command_is(sub, "LS")) {
    ls(server, nick, m, out);
  } else if (command_is(sub, "LIST")) {
    std::string list;
    for (const CapInfo& c : kCaps) {
      if (!(enabled_ & c.bit)) continue;
      if (!list.empty()) list.push_back(' ');
      list.append(c.name);
    }
    cap_line(server, nick, "LIST", list, out);
  } else if (command_is(sub, "REQ")) {
    if (!registered_) holding_ = true;
    req(server, nick, m.nparams >= 2 ? m.params[1] : std::string_view(), out);
  } else if (command_is(sub, "END")) {
    holding_ = false;
  } else {
    Writer(out).source(server).command("410").param(nick).param(sub).trailing("Invalid CAP command").end();
  }
}

void CapNegotiation::ls(std::string_view server, std::string_view nick, const Message& m, std::string* out) {
  int v = 301;
  if (m.nparams >= 2) {
    std::string num(m.params[1].substr(0, 9));
    v = std::atoi(num.c_str());
    if (v < 301) v = 301;
  }
  if (v > version_) version_ = v;
  if (!registered_) holding_ = true;
  // A client that speaks 302 gets cap-notify without asking (IRCv3 cap-notify).
  if (version_ >= 302) enabled_ |= kCapCapNotify;
  std::string list;
  for (const CapInfo& c : kCaps) {
    if (!list.empty()) list.push_back(' ');
    list.append(c.name);
    if (version_ >= 302 && c.value) {
      list.push_back('=');
      list.append(c.value);
    }
  }
  // The list fits one line; a longer one would be split with a "*" continuation (302).
  cap_line(server, nick, "LS", list, out);
}

void CapNegotiation::req(std::string_view server, std::string_view nick, std::string_view list, std::string* out) {
  // All or nothing: one unknown capability, or an attempt to disable cap-notify after 302, NAKs all.
  uint32_t add = 0, remove = 0;
  bool ok = true;
  std::string_view rest = list;
  size_t count = 0;
  while (!rest.empty()) {
    size_t sp = rest.find(' ');
    std::string_view word = rest.substr(0, sp);
    rest.remove_prefix(sp == std::string_view::npos ? rest.size() : sp + 1);
    if (word.empty()) continue;
    ++count;
    bool minus = word[0] == '-';
    if (minus) word.remove_prefix(1);
    const CapInfo* c = find_cap(word);
    if (!c || (minus && c->bit == kCapCapNotify && version_ >= 302)) {
      ok = false;
      break;
    }
    (minus ? remove : add) |= c->bit;
  }
  if (!ok || count == 0) {
    cap_line(server, nick, "NAK", list, out);
    return;
  }
  enabled_ = (enabled_ | add) & ~remove;
  cap_line(server, nick, "ACK", list, out);
}

}  // namespace ep::irc
