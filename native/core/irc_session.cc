// The IRC protocol session (RFC 1459/2812 as practised, IRCv3 caps): registration (CAP, PASS, NICK,
// USER, SASL PLAIN against the host's accounts), then the commands of docs/irc.md. Channels are the
// chat model's rooms ("#dev" is the line protocol's "dev"); an IRC user may be in many. Replies to the
// user's own commands are numerics (irc_replies.cc); what others see goes through fan-out.
#include <algorithm>
#include <ctime>
#include <string>

#include "server.h"
#include "text.h"

namespace ep {

namespace {

constexpr size_t kChanLimit = 50;    // channels per IRC user (ISUPPORT CHANLIMIT)
constexpr size_t kTopicLen = 300;    // TOPICLEN, AWAYLEN, KICKLEN
constexpr size_t kMaxTargets = 4;    // PRIVMSG/NOTICE targets per line (TARGMAX)
constexpr size_t kUserLen = 10;

// The line's text, with IRC formatting codes and CTCP's \x01 (allowed on IRC) set aside, checked
// like a line-protocol line: valid UTF-8, no other control character, no bidirectional override.
text::Check check_irc_line(std::string_view line) {
  bool special = irc::has_formatting(line) || line.find('\x01') != std::string_view::npos;
  if (!special) return text::check_line(line);
  std::string clean = irc::strip_formatting(line);
  clean.erase(std::remove(clean.begin(), clean.end(), '\x01'), clean.end());
  return text::check_line(clean);
}

// Splits "a,b,c" (empty items skipped).
template <typename F>
void each_item(std::string_view list, F f) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (!item.empty()) f(item);
  }
}

uint64_t unix_now() { return static_cast<uint64_t>(std::time(nullptr)); }

}  // namespace

Room* Server::irc_room(std::string_view chan, bool* valid) const {
  *valid = chan.size() >= 2 && chan[0] == '#' && text::valid_room(chan.substr(1));
  return *valid ? rooms_.find(chan.substr(1)) : nullptr;
}

void Server::irc_line(Client* c, std::string_view line) {
  IrcState& st = *c->irc;
  if (st.quitting) return;
  irc::Message m;
  irc::ParseError pe = irc::parse(line, &m);
  if (pe == irc::ParseError::BodyTooLong || pe == irc::ParseError::TagsTooLong) {
    irc_num(c, 417, {}, "Input line was too long");
    return;
  }
  if (pe == irc::ParseError::Empty) return;
  if (pe != irc::ParseError::None) {
    irc_num(c, 421, "*", std::string("Malformed line (") + irc::error_name(pe) + ")");
    return;
  }
  switch (check_irc_line(line)) {
    case text::Check::Ok: break;
    case text::Check::BadUtf8:
      error(c, "BAD_UTF8", "line is not valid UTF-8; not sent");
      return;
    case text::Check::ControlChar:
      error(c, "BAD_CHAR", "line contains a control character; not sent");
      return;
    case text::Check::Spoof:
      error(c, "BAD_CHAR", "line contains a bidirectional control or line separator; not sent");
      return;
  }
  irc_dispatch(c, m);
}

void Server::irc_dispatch(Client* c, const irc::Message& m) {
  IrcState& st = *c->irc;
  const bool reg = c->state == ClientState::Active;
  auto is = [&](std::string_view name) { return irc::command_is(m.command, name); };
  auto need = [&](size_t n) {
    if (m.nparams >= n) return true;
    irc_num(c, 461, std::string(m.command), "Not enough parameters");
    return false;
  };
  if (is("CAP")) {
    std::string out;
    st.caps.handle(m, kIrcServerName, reg ? std::string_view(c->nick) : std::string_view("*"), &out);
    irc_send(c, out);
    bool tagged = st.caps.has(irc::kCapServerTime) || st.caps.has(irc::kCapMessageTags);
    c->codec = irc_codec_for(c, tagged);
    if (!reg) irc_try_register(c);
    return;
  }
  if (is("PING")) {
    if (!need(1)) return;
    std::string s = std::string(":") + kIrcServerName + " PONG " + kIrcServerName + " :" + std::string(m.params[0]) + "\r\n";
    irc_send(c, s);
    return;
  }
  if (is("PONG")) return;  // any line counts as activity
  if (is("QUIT")) {
    irc_quit(c, m.nparams ? m.params[0] : std::string_view());
    return;
  }
  if (is("PASS")) {
    if (reg) return irc_num(c, 462, {}, "You may not reregister");
    if (!need(1)) return;
    st.pass = std::string(m.params[0]);
    return;
  }
  if (is("NICK")) {
    if (m.nparams < 1 || m.params[0].empty()) return irc_num(c, 431, {}, "No nickname given");
    irc_nick(c, m.params[0]);
    return;
  }
  if (is("USER")) {
    if (reg || st.got_user) return irc_num(c, 462, {}, "You may not reregister");
    if (!need(4)) return;
    std::string_view u = m.params[0];
    st.user = text::valid_nick(u, kUserLen) ? std::string(u) : std::string("user");
    st.realname = std::string(text::utf8_prefix(m.params[3], 100));
    st.got_user = true;
    irc_try_register(c);
    return;
  }
  if (is("AUTHENTICATE")) {
    irc_authenticate(c, m);
    return;
  }
  // irssi sends a bare "JOIN :" as it connects: an empty channel list is silence, not an error.
  if (is("JOIN") && m.nparams >= 1 && m.params[0].empty()) return;
  if (!reg) {
    irc_num(c, 451, {}, "You have not registered");
    return;
  }
  if (is("PRIVMSG")) return irc_privmsg(c, m, false);
  if (is("NOTICE")) return irc_privmsg(c, m, true);
  if (is("JOIN")) {
    if (!need(1)) return;
    irc_join(c, m.params[0]);
    return;
  }
  if (is("PART")) {
    if (!need(1)) return;
    irc_part(c, m.params[0], m.nparams > 1 ? m.params[1] : std::string_view());
    return;
  }
  if (is("NAMES")) {
    if (m.nparams < 1) return irc_num(c, 366, "*", "End of /NAMES list.");
    each_item(m.params[0], [&](std::string_view chan) {
      bool valid = false;
      const Room* r = irc_room(chan, &valid);
      if (r) irc_names(c, r);
      else irc_num(c, 366, chan, "End of /NAMES list.");
    });
    return;
  }
  if (is("WHO")) return irc_who(c, m.nparams ? m.params[0] : std::string_view());
  if (is("WHOIS")) {
    if (m.nparams < 1) return irc_num(c, 431, {}, "No nickname given");
    irc_whois(c, m.params[m.nparams - 1]);  // WHOIS [server] nick
    return;
  }
  if (is("LIST")) return irc_list(c);
  if (is("TOPIC")) return irc_topic(c, m);
  if (is("MODE")) return irc_mode(c, m);
  if (is("KICK")) return irc_kick(c, m);
  if (is("AWAY")) return irc_away(c, m);
  if (is("MOTD")) return irc_motd(c);
  if (is("LUSERS")) return irc_lusers(c);
  if (is("USERHOST")) {
    if (!need(1)) return;
    std::string out;
    for (size_t i = 0; i < m.nparams && i < 5; ++i) {
      const Client* u = nicks_.find(m.params[i]);
      if (!u) continue;
      std::string p = prefix(u);
      if (!out.empty()) out += ' ';
      out += u->nick + "=" + (u->irc && !u->irc->away.empty() ? "-" : "+") + p.substr(p.find('!') + 1);
    }
    return irc_num(c, 302, {}, out);
  }
  if (is("ISON")) {
    std::string out;
    for (size_t i = 0; i < m.nparams; ++i) {
      std::string_view rest = m.params[i];
      while (!rest.empty()) {
        size_t sp = rest.find(' ');
        std::string_view n = rest.substr(0, sp);
        rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
        if (const Client* u = n.empty() ? nullptr : nicks_.find(n)) {
          if (!out.empty()) out += ' ';
          out += u->nick;
        }
      }
    }
    return irc_num(c, 303, {}, out);
  }
  irc_num(c, 421, std::string(m.command), "Unknown command");
}

void Server::irc_nick(Client* c, std::string_view nick) {
  IrcState& st = *c->irc;
  if (!text::valid_nick(nick, pol_.nick_max) || pol_.reserved.count(text::lower(nick))) {
    irc_num(c, 432, nick, "Erroneous nickname");
    return;
  }
  Client* holder = nicks_.find(nick);
  if (holder && holder != c) {
    irc_num(c, 433, nick, "Nickname is already in use");
    return;
  }
  if (c->state != ClientState::Active) {
    st.nick = std::string(nick);
    irc_try_register(c);
    return;
  }
  if (nick == c->nick) return;
  std::string key = text::lower(nick);
  if (protected_.count(key) && key != text::lower(c->nick) && key != st.account) {
    irc_num(c, 433, nick, "Nickname belongs to an account (log in with SASL)");
    return;
  }
  rename(c, nick);
}

void Server::irc_try_register(Client* c) {
  IrcState& st = *c->irc;
  if (c->state != ClientState::Nick || st.nick.empty() || !st.got_user || st.caps.holding() || st.auth_step ||
      input_held(c))
    return;
  Client* holder = nicks_.find(st.nick);
  if (holder && holder != c) {
    irc_num(c, 433, st.nick, "Nickname is already in use");
    st.nick.clear();
    return;
  }
  std::string key = text::lower(st.nick);
  if (protected_.count(key) && st.account != key) {
    // The same host password path as the line protocol's protected nick: auth, then password.
    if (!st.pass.empty()) {
      st.auth_step = 1;
      st.auth_sasl = false;
      st.auth_password.swap(st.pass);
      std::string().swap(st.pass);
      emit_command(c, "auth", st.nick);
      return;
    }
    irc_num(c, 433, st.nick, "Nickname belongs to an account (log in with SASL, or PASS with its password)");
    st.nick.clear();
    return;
  }
  irc_complete_registration(c, st.nick);
}

void Server::irc_complete_registration(Client* c, std::string_view nick) {
  IrcState& st = *c->irc;
  std::string().swap(st.pass);
  st.caps.registered();
  register_user(c, nick);
  irc_welcome(c);
}

void Server::irc_authenticate(Client* c, const irc::Message& m) {
  IrcState& st = *c->irc;
  if (c->state == ClientState::Active) return irc_num(c, 462, {}, "You may not reregister");
  if (!st.caps.has(irc::kCapSasl)) return irc_num(c, 421, "AUTHENTICATE", "Unknown command");
  if (m.nparams < 1) return irc_num(c, 461, "AUTHENTICATE", "Not enough parameters");
  if (!st.account.empty()) return irc_num(c, 907, {}, "You have already authenticated using SASL");
  if (st.auth_step) return;
  bool was = st.sasl.in_progress();
  switch (st.sasl.feed(m.params[0])) {
    case irc::SaslPlain::Result::Continue:
      if (!was) irc_send(c, "AUTHENTICATE +\r\n");
      return;
    case irc::SaslPlain::Result::BadMech:
      irc_num(c, 908, "PLAIN", "are available SASL mechanisms");
      irc_num(c, 904, {}, "SASL authentication failed");
      return;
    case irc::SaslPlain::Result::Aborted:
      irc_num(c, 906, {}, "SASL authentication aborted");
      return;
    case irc::SaslPlain::Result::TooLong:
      irc_num(c, 905, {}, "SASL message too long");
      return;
    case irc::SaslPlain::Result::Failed:
      irc_num(c, 904, {}, "SASL authentication failed");
      return;
    case irc::SaslPlain::Result::Ready:
      break;
  }
  const std::string name = st.sasl.authcid();
  // The host answers `auth` and `password` as for a line user's protected nick (without an accounts
  // module nobody logs the client in, and SASL fails).
  if (!text::valid_nick(name, 255) || !protected_.count(text::lower(name))) {
    st.sasl.reset();
    irc_num(c, 904, {}, "SASL authentication failed");
    return;
  }
  st.auth_step = 1;
  st.auth_sasl = true;
  st.auth_password = st.sasl.password();
  st.sasl.forget_password();
  st.sasl.reset();
  emit_command(c, "auth", name);
}

void Server::irc_auth_finished(Client* c) {
  IrcState& st = *c->irc;
  if (st.auth_step == 1) {
    // The host took the name (and would now prompt a line user for the password): send it.
    st.auth_step = 2;
    std::string pw;
    pw.swap(st.auth_password);
    emit_command(c, "password", pw);
    std::fill(pw.begin(), pw.end(), '\0');
    return;
  }
  if (st.auth_step == 2) irc_auth_result(c, false);  // finished without logging in: refused
}

void Server::irc_auth_result(Client* c, bool ok) {
  IrcState& st = *c->irc;
  if (!st.auth_step) return;
  st.auth_step = 0;
  std::fill(st.auth_password.begin(), st.auth_password.end(), '\0');
  std::string().swap(st.auth_password);
  if (st.auth_sasl) {
    if (ok) {
      std::string who = (st.nick.empty() ? std::string("*") : st.nick) + "!" + (st.user.empty() ? "*" : st.user) + "@*";
      irc_num(c, 900, who + " " + st.account, "You are now logged in as " + st.account);
      irc_num(c, 903, {}, "SASL authentication successful");
    } else {
      st.account.clear();
      irc_num(c, 904, {}, "SASL authentication failed");
    }
    return;
  }
  // PASS for a protected nick at registration.
  if (!ok) {
    irc_num(c, 464, {}, "Password incorrect");
    st.nick.clear();
    return;
  }
  // Registration goes on once the host has finished the command (input is held until then).
  if (!input_held(c)) irc_try_register(c);
}

void Server::irc_join(Client* c, std::string_view chans) {
  if (chans == "0") {
    while (!c->joined.empty()) {
      std::string name = "#" + c->joined.back().room->name;
      irc_part(c, name, "Left all channels");
    }
    return;
  }
  each_item(chans, [&](std::string_view chan) { irc_join_one(c, chan); });
}

void Server::irc_join_one(Client* c, std::string_view chan) {
  bool valid = false;
  Room* r = irc_room(chan, &valid);
  if (!valid) return irc_num(c, 403, chan, "No such channel (names are # then 1-32 of A-Z a-z 0-9 _ -)");
  if (r && in_room(c, r)) return;
  if (c->joined.size() >= kChanLimit) return irc_num(c, 405, chan, "You have joined too many channels");
  if (!r) {
    if (rooms_.size() >= pol_.max_rooms) return irc_num(c, 403, chan, "The server has reached its room limit");
    r = rooms_.create(chan.substr(1));
    r->creator = text::lower(c->nick);
    stats_->rooms.set(rooms_.size());
  }
  rooms_.add(r, c);
  lifecycle(c, ev::Join{c->id(), c->nick, r->name});
  std::string src = prefix(c);
  Out joined{OutKind::Joined, c->nick, r->name};
  joined.src = src;
  if (c->list) {
    // The NAMES of a channel before this one in the same JOIN is still being sent: the echo waits
    // behind it (ListCursor::then), the others hear it now.
    if (!quiet(r)) fanout(r, joined, c, false);
    Out mine = joined;
    mine.to = c->nick;
    std::string s;
    c->codec->append(mine, s);
    c->list->then.push_back(ListThen{std::move(s), {}});
  } else if (quiet(r)) {
    send(c, joined);
  } else {
    fanout(r, joined, nullptr, false);
  }
  const std::string name = "#" + r->name;
  if (!r->topic.empty()) {
    irc_num(c, 332, name, text::utf8_prefix(r->topic, kIrcTopicLen));
    irc_num(c, 333, name + " " + r->topic_by + " " + std::to_string(r->topic_time), {}, false);
  }
  irc_names(c, r);
}

void Server::irc_part(Client* c, std::string_view chans, std::string_view reason) {
  each_item(chans, [&](std::string_view chan) {
    bool valid = false;
    Room* r = irc_room(chan, &valid);
    if (!r) return irc_num(c, 403, chan, "No such channel");
    if (!in_room(c, r)) return irc_num(c, 442, chan, "You're not on that channel");
    std::string src = prefix(c);
    std::string why(text::utf8_prefix(reason, kTopicLen));
    Out left{OutKind::Left, c->nick, r->name, why};
    left.src = src;
    if (quiet(r)) send(c, left);
    else fanout(r, left, nullptr, false);
    part_room(c, r);
  });
}

void Server::irc_privmsg(Client* c, const irc::Message& m, bool notice) {
  // NOTICE never gets an error reply (RFC 2812 3.3.2).
  auto err = [&](int code, std::string_view params, std::string_view text) {
    if (!notice) irc_num(c, code, params, text);
  };
  if (m.nparams < 1 || m.params[0].empty()) return err(411, {}, "No recipient given (" + std::string(m.command) + ")");
  if (m.nparams < 2 || m.params[1].empty()) return err(412, {}, "No text to send");
  std::string_view text = m.params[1];
  std::string_view act;
  bool action = irc::ctcp_action(text, &act);
  bool other_ctcp = !action && irc::is_ctcp(text);
  if (action) text = act;
  if (text::blank(text) && !other_ctcp) return err(412, {}, "No text to send");
  const bool echo = c->irc->caps.has(irc::kCapEchoMessage);
  std::string src = prefix(c);
  size_t n = 0;
  each_item(m.params[0], [&](std::string_view target) {
    if (++n > kMaxTargets) return err(407, target, "Too many recipients");
    if (target[0] == '#') {
      bool valid = false;
      Room* r = irc_room(target, &valid);
      if (!r) return err(403, target, "No such channel");
      if (!in_room(c, r)) return err(404, target, "Cannot send to channel");
      Out o{action ? OutKind::Action : OutKind::Chat, c->nick, r->name, text};
      o.src = src;
      o.notice = notice && !action;
      // A CTCP other than ACTION (VERSION, PING…) means nothing to a line user.
      fanout(r, o, echo ? nullptr : c, true, 0, other_ctcp);
      if (pol_.emit_messages && !other_ctcp) {
        bridge_->emit(ev::Message{c->id(), c->nick, r->name, {}, std::string(text)});
      }
      return;
    }
    Client* u = nicks_.find(target);
    if (!u || u->state != ClientState::Active) {
      if (!notice && !other_ctcp && pol_.delegate_offline_msg && protected_.count(text::lower(target))) {
        // An account's nick, offline: the host stores it in the mailbox (its answer comes as a NOTICE).
        emit_command(c, "msg", std::string(target) + " " + std::string(text));
        return;
      }
      return err(401, target, "No such nick/channel");
    }
    if (other_ctcp && u->proto != Proto::Irc) return;  // nothing a line user can read
    Out o{OutKind::PmFrom, c->nick, {}, text};
    o.src = src;
    o.action = action;
    o.notice = notice && !action;
    send(u, o);
    stats_->deliveries.add();
    if (echo) {
      Out back{OutKind::PmTo, u->nick, {}, text};
      back.src = src;
      back.action = action;
      back.notice = o.notice;
      send(c, back);
    }
    if (!notice && u->irc && !u->irc->away.empty()) irc_num(c, 301, u->nick, u->irc->away);
    if (pol_.emit_messages && !other_ctcp) {
      bridge_->emit(ev::Message{c->id(), c->nick, {}, u->nick, std::string(text)});
    }
  });
}

void Server::irc_topic(Client* c, const irc::Message& m) {
  if (m.nparams < 1) return irc_num(c, 461, "TOPIC", "Not enough parameters");
  std::string_view chan = m.params[0];
  bool valid = false;
  Room* r = irc_room(chan, &valid);
  if (!r) return irc_num(c, 403, chan, "No such channel");
  const std::string name = "#" + r->name;
  if (m.nparams < 2) {
    if (r->topic.empty()) return irc_num(c, 331, name, "No topic is set");
    irc_num(c, 332, name, text::utf8_prefix(r->topic, kIrcTopicLen));
    irc_num(c, 333, name + " " + r->topic_by + " " + std::to_string(r->topic_time), {}, false);
    return;
  }
  if (!in_room(c, r)) return irc_num(c, 442, chan, "You're not on that channel");
  r->topic = std::string(text::utf8_prefix(m.params[1], kTopicLen));
  r->topic_by = c->nick;
  r->topic_time = unix_now();
  std::string src = prefix(c);
  Out o{OutKind::Topic, c->nick, r->name, r->topic};
  o.src = src;
  if (quiet(r)) send(c, o);
  else fanout(r, o, nullptr, false);
}

void Server::irc_mode(Client* c, const irc::Message& m) {
  if (m.nparams < 1) return irc_num(c, 461, "MODE", "Not enough parameters");
  std::string_view target = m.params[0];
  if (target[0] == '#') {
    bool valid = false;
    Room* r = irc_room(target, &valid);
    if (!r) return irc_num(c, 403, target, "No such channel");
    const std::string name = "#" + r->name;
    if (m.nparams < 2) {
      irc_num(c, 324, name + " +n", {}, false);
      irc_num(c, 329, name + " " + std::to_string(r->created), {}, false);
      return;
    }
    std::string_view modes = m.params[1];
    if (modes == "b" || modes == "+b") {
      if (m.nparams < 3) return irc_num(c, 368, name, "End of channel ban list");
    }
    if (!irc_is_op(c, r)) return irc_num(c, 482, name, "You're not channel operator");
    for (char ch : modes) {
      if (ch == '+' || ch == '-') continue;
      std::string one(1, ch);
      return irc_num(c, 472, one, "is unknown mode char to me");
    }
    return;
  }
  const Client* u = nicks_.find(target);
  if (!u) return irc_num(c, 401, target, "No such nick/channel");
  if (u != c) return irc_num(c, 502, {}, "Can't change mode for other users");
  IrcState& st = *c->irc;
  if (m.nparams < 2) return irc_num(c, 221, st.invisible ? "+i" : "+", {}, false);
  // Only +i / -i (invisible: accepted, nothing to hide on one server); clients set it as they connect.
  bool on = true, changed = false;
  for (char ch : m.params[1]) {
    if (ch == '+' || ch == '-') on = ch == '+';
    else if (ch == 'i') changed |= st.invisible != on, st.invisible = on;
    else return irc_num(c, 501, {}, "Unknown MODE flag");
  }
  if (changed) irc_send(c, ":" + c->nick + " MODE " + c->nick + " :" + (st.invisible ? "+i" : "-i") + "\r\n");
}

void Server::irc_kick(Client* c, const irc::Message& m) {
  if (m.nparams < 2) return irc_num(c, 461, "KICK", "Not enough parameters");
  std::string_view chan = m.params[0];
  bool valid = false;
  Room* r = irc_room(chan, &valid);
  if (!r) return irc_num(c, 403, chan, "No such channel");
  const std::string name = "#" + r->name;
  if (!in_room(c, r)) return irc_num(c, 442, name, "You're not on that channel");
  if (!irc_is_op(c, r)) return irc_num(c, 482, name, "You're not channel operator");
  Client* v = nicks_.find(m.params[1]);
  if (!v || !in_room(v, r)) return irc_num(c, 441, std::string(m.params[1]) + " " + name, "They aren't on that channel");
  // A line user is always in a room: kicked from the default room it would have nowhere to go.
  if (v->proto == Proto::Line && r == lobby_)
    return irc_num(c, 482, name, "A line user cannot be kicked from the default room");
  std::string reason(text::utf8_prefix(m.nparams > 2 ? m.params[2] : std::string_view(), kTopicLen));
  std::string src = prefix(c);
  Out o{OutKind::Kicked, c->nick, r->name, reason};
  o.d = v->nick;
  o.src = src;
  if (quiet(r)) {
    send(c, o);
    if (v != c) send(v, o);
  } else {
    fanout(r, o, nullptr, false);
  }
  bool was_current = v->room == r;
  part_room(v, r);
  if (was_current) move_to(v, lobby_);  // the line user goes back to the default room
}

void Server::irc_away(Client* c, const irc::Message& m) {
  IrcState& st = *c->irc;
  std::string_view text = m.nparams ? m.params[0] : std::string_view();
  if (text.empty()) {
    bool was = !st.away.empty();
    st.away.clear();
    irc_num(c, 305, {}, "You are no longer marked as being away");
    if (was) irc_away_notify(c);
    return;
  }
  st.away = std::string(text::utf8_prefix(text, kTopicLen));
  irc_num(c, 306, {}, "You have been marked as being away");
  irc_away_notify(c);
}

void Server::irc_away_notify(Client* c) {
  std::string src = prefix(c);
  Out o{OutKind::Away, c->nick, {}, c->irc->away};
  o.src = src;
  uint64_t stamp = next_stamp();
  c->mark = stamp;
  for (const Membership& mb : c->joined) {
    for (Client* u : mb.room->members) {
      if (u->mark == stamp) continue;
      u->mark = stamp;
      if (u->irc && u->irc->caps.has(irc::kCapAwayNotify)) send(u, o);
    }
  }
}

void Server::irc_quit(Client* c, std::string_view reason) {
  std::string why(text::utf8_prefix(reason, kTopicLen));
  irc_send(c, "ERROR :Closing link: " + (why.empty() ? std::string("Quit") : "Quit: " + why) + "\r\n");
  c->irc->quitting = true;
  quit_reason_ = why;
  close_client(c, "quit");
  quit_reason_ = {};
}

void Server::irc_ping_idle(uint64_t now) {
  const uint64_t grace = irc_ping_grace(pol_.idle_timeout_ms);
  while (Client* c = static_cast<Client*>(irc_idle_list_.head())) {
    if (c->last_ms + pol_.idle_timeout_ms - grace > now) break;
    irc_idle_list_.remove(c);
    c->irc->pinged = true;
    irc_send(c, std::string("PING :") + kIrcServerName + "\r\n");
    ping_list_.push_back(c);
  }
}

}  // namespace ep
