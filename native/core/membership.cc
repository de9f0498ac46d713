// The chat model's operations every protocol shares, and who is told: registering a nick, leaving a
// room, renaming, disconnecting. An event that concerns several rooms (a rename, a quit) reaches each
// user who shares one of them once, formatted once per protocol variant (Server::fanout with a stamp).
#include <string>

#include "server.h"
#include "text.h"

namespace ep {

std::string Server::prefix(const Client* c) const {
  // The host part: the client's address without its port ("[::1]:5" → "::1").
  std::string_view a = c->addr;
  size_t colon = a.rfind(':');
  if (colon != std::string_view::npos) a = a.substr(0, colon);
  if (a.size() >= 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
  if (a.empty() || a.front() == ':') a = "epchat";
  std::string p = c->nick;
  p += '!';
  if (c->irc && !c->irc->user.empty()) p += c->irc->user;
  else p += c->nick;
  p += '@';
  p.append(a.data(), a.size());
  return p;
}

void Server::register_user(Client* c, std::string_view nick) {
  unlink_timer(c);
  c->nick = std::string(nick);
  c->state = ClientState::Active;
  c->last_ms = now_ms_;
  if (c->proto == Proto::Irc) irc_idle_list_.push_back(c);
  else idle_list_.push_back(c);
  nicks_.insert(nick, c);
  stats_->users.set(nicks_.size());
  if (nicks_.size() > stats_->peak_users.get()) stats_->peak_users.set(nicks_.size());
  lifecycle(c, ev::Register{c->id(), c->nick});
}

Room* Server::part_room(Client* c, Room* r) {
  std::string name = r->name;
  rooms_.remove(r, c);
  stats_->rooms.set(rooms_.size());
  lifecycle(c, ev::Leave{c->id(), c->nick, name});
  return rooms_.find(name);
}

void Server::fanout_shared(Client* c, const Out& o, bool tell_self) {
  uint64_t stamp = next_stamp();
  c->mark = stamp;
  if (tell_self) send(c, o);
  for (const Membership& m : c->joined)
    if (!quiet(m.room)) fanout(m.room, o, nullptr, false, stamp);
}

void Server::detach(Client* c) {
  nicks_.erase(c->nick);
  stats_->users.set(nicks_.size());
  if (c->joined.empty()) return;
  std::string src = prefix(c);
  uint64_t stamp = next_stamp();
  c->mark = stamp;
  Out bye{OutKind::Bye, c->nick, {}, quit_reason_};
  bye.src = src;
  while (!c->joined.empty()) {
    Room* still = part_room(c, c->joined.back().room);
    if (still && !stopping_ && !quiet(still)) fanout(still, bye, nullptr, false, stamp);
  }
}

void Server::rename(Client* c, std::string_view nick) {
  std::string old = c->nick;
  std::string src = prefix(c);  // the old nick!user@host
  nicks_.erase(old);
  c->nick = std::string(nick);
  nicks_.insert(nick, c);
  // The operator of the rooms it created keeps that status under its new nick.
  const std::string old_key = text::lower(old);
  for (Membership& m : c->joined)
    if (m.room->creator == old_key) m.room->creator = text::lower(nick);
  lifecycle(c, ev::Nick{c->id(), old, c->nick});
  Out o{OutKind::Renamed, old, c->nick};
  o.src = src;
  fanout_shared(c, o, true);
}

}  // namespace ep
