// The line protocol (docs/protocol.md): what a line client asks for — registration at the prompt,
// chat in its one current room, moving between rooms, private messages, queries. The IRC protocol's
// counterpart is irc_session.cc; what both share (joining, leaving, renaming) is membership.cc.
#include <algorithm>
#include <string>

#include "server.h"
#include "text.h"

namespace ep {

namespace {

struct HelpLine {
  const char* usage;
  const char* what;
};

constexpr HelpLine kHelp[] = {
    {"/help", "this list (start a line with // to send a message beginning with /)"},
    {"/nick NEW", "change your nickname"},
    {"/rooms", "list rooms with their member counts"},
    {"/create ROOM", "create a room and move there"},
    {"/join ROOM", "move to an existing room"},
    {"/leave", "go back to the default room"},
    {"/users", "who is in your room"},
    {"/who", "everyone online, with their room"},
    {"/msg NICK TEXT", "private message (also /pm)"},
    {"/me ACTION", "say what you are doing"},
    {"/stats", "server statistics"},
    {"/quit [REASON]", "leave the chat (the room sees the reason)"},
};

}  // namespace

void Server::dispatch(Client* c, std::string_view line) {
  if (c->state == ClientState::Auth) {
    Request r = c->codec->parse(line);
    if (r.cmd == Cmd::Quit) {
      close_client(c, "quit");
      return;
    }
    // The password is for the host's account policy alone: it is never logged or echoed here.
    emit_command(c, "password", line);
    return;
  }
  if (c->state == ClientState::Nick) {
    on_prompt_line(c, line);
    return;
  }
  Request r = c->codec->parse(line);
  switch (r.cmd) {
    case Cmd::Text: cmd_text(c, r.text); break;
    case Cmd::Nick: cmd_nick(c, r.arg); break;
    case Cmd::Help: cmd_help(c); break;
    case Cmd::Rooms: cmd_rooms(c); break;
    case Cmd::Create: cmd_join(c, r.arg, true); break;
    case Cmd::Join: cmd_join(c, r.arg, false); break;
    case Cmd::Leave:
      if (c->room == lobby_) error(c, "ALREADY_IN_ROOM", "you are in " + lobby_->name);
      else move_to(c, lobby_);
      break;
    case Cmd::Users: cmd_users(c); break;
    case Cmd::Who: cmd_who(c); break;
    case Cmd::Msg: cmd_msg(c, r.arg, r.text, r.name); break;
    case Cmd::Me: cmd_me(c, r.text); break;
    case Cmd::Quit: {
      // The reason (already checked like any text) goes on the Bye line, to the user and the room.
      std::string_view reason = text::blank(r.text) ? std::string_view() : r.text;
      send(c, Out{OutKind::Bye, c->nick, {}, reason});
      quit_reason_ = reason;
      close_client(c, "quit");
      quit_reason_ = {};
      break;
    }
    case Cmd::Stats: cmd_stats(c); break;
    case Cmd::Other: {
      std::string name = text::lower(r.name);
      if (pol_.delegate.count(name)) emit_command(c, name, r.text);
      else error(c, "UNKNOWN_COMMAND", "unknown command /" + std::string(r.name) + " (try /help)");
      break;
    }
  }
}

void Server::on_prompt_line(Client* c, std::string_view line) {
  Request r = c->codec->parse(line);
  switch (r.cmd) {
    case Cmd::Text:
      // "//x" is text at the prompt too, and no nick starts with '/'.
      try_register(c, line[0] == '/' ? line : text::trim(line));
      return;
    case Cmd::Help: cmd_help(c); return;
    case Cmd::Quit: close_client(c, "quit"); return;
    case Cmd::Other: {
      std::string name = text::lower(r.name);
      if (pol_.delegate.count(name)) {
        emit_command(c, name, r.text);
        return;
      }
      break;
    }
    default: break;
  }
  error(c, "NOT_REGISTERED", "choose a nickname first");
  send(c, Out{OutKind::Prompt});
}

// Sends the error and returns true when nick cannot be taken by c.
bool Server::nick_error(Client* c, std::string_view nick) {
  if (!text::valid_nick(nick, pol_.nick_max)) {
    error(c, "NICK_INVALID",
          "nickname must be 1-" + std::to_string(pol_.nick_max) +
              " characters of A-Z a-z 0-9 _ - and start with a letter or _");
    return true;
  }
  std::string key = text::lower(nick);
  if (pol_.reserved.count(key)) {
    error(c, "NICK_RESERVED", "nickname " + std::string(nick) + " is reserved");
    return true;
  }
  Client* holder = nicks_.find(nick);
  if (holder && holder != c) {
    error(c, "NICK_TAKEN", "nickname " + std::string(nick) + " is taken");
    return true;
  }
  return false;
}

void Server::try_register(Client* c, std::string_view nick) {
  if (nick_error(c, nick)) {
    send(c, Out{OutKind::Prompt});
    return;
  }
  if (protected_.count(text::lower(nick))) {
    // An account's nickname: the host asks for the password and answers with login() or prompt().
    c->state = ClientState::Auth;
    c->flags |= kClientWatched;
    emit_command(c, "auth", nick);
    return;
  }
  register_client(c, nick);
}

void Server::register_client(Client* c, std::string_view nick) {
  if (c->proto == Proto::Irc) {
    irc_complete_registration(c, nick);
    return;
  }
  register_user(c, nick);
  rooms_.add(lobby_, c);
  c->room = lobby_;
  lifecycle(c, ev::Join{c->id(), c->nick, lobby_->name});
  std::string src = prefix(c);
  Out welcome{OutKind::Welcome, c->nick, lobby_->name};
  welcome.src = src;
  if (quiet(lobby_)) send(c, welcome);
  else fanout(lobby_, welcome, nullptr, false);
}

void Server::cmd_text(Client* c, std::string_view text) {
  if (text::blank(text)) {
    error(c, "EMPTY", "nothing to send (the line is blank)");
    return;
  }
  std::string src = prefix(c);
  Out o{OutKind::Chat, c->nick, c->room->name, text};
  o.src = src;
  fanout(c->room, o, c, true);
  if (pol_.emit_messages) {
    bridge_->emit(ev::Message{c->id(), c->nick, c->room->name, {}, std::string(text)});
  }
}

void Server::cmd_nick(Client* c, std::string_view nick) {
  if (nick.empty()) {
    error(c, "USAGE", "/nick NEW");
    return;
  }
  if (nick == c->nick) return;
  if (nick_error(c, nick)) return;
  if (protected_.count(text::lower(nick)) && text::lower(nick) != text::lower(c->nick)) {
    error(c, "NICK_PROTECTED", "nickname " + std::string(nick) + " belongs to an account; use /login");
    return;
  }
  rename(c, nick);
}

// A short list reply (/help, /stats, /users of a small room), queued whole.
void Server::finish(ListReply& r, std::string_view end_kind) {
  r.c->codec->append(Out{OutKind::End, end_kind, {}, {}, r.n}, r.buf);
  enqueue_copy(r.c, r.buf);
  charge_list(r.c, r.n);
}

void Server::cmd_help(Client* c) {
  ListReply r{c, "HELP"};
  for (const HelpLine& h : kHelp) r.add(h.usage, std::string("- ") + h.what);
  for (const std::string& line : pol_.help) r.add({}, line);
  finish(r, "HELP");
}

void Server::cmd_join(Client* c, std::string_view name, bool create) {
  if (name.empty()) {
    error(c, "USAGE", create ? "/create ROOM" : "/join ROOM");
    return;
  }
  if (!text::valid_room(name)) {
    error(c, "ROOM_INVALID", "room names are 1-32 characters of A-Z a-z 0-9 _ -");
    return;
  }
  Room* r = rooms_.find(name);
  if (create && r) {
    error(c, "ROOM_EXISTS", "room " + r->name + " already exists");
    return;
  }
  if (!r) {
    if (!create && !pol_.auto_create_rooms) {
      error(c, "NO_SUCH_ROOM", "no room named " + std::string(name) + " (see /rooms, or /create it)");
      return;
    }
    if (rooms_.size() >= pol_.max_rooms) {
      error(c, "ROOM_LIMIT", "the server has reached its room limit (" + std::to_string(pol_.max_rooms) + ")");
      return;
    }
    r = rooms_.create(name);
    stats_->rooms.set(rooms_.size());
  }
  if (r == c->room) {
    error(c, "ALREADY_IN_ROOM", "you are in " + r->name);
    return;
  }
  move_to(c, r);
}

void Server::move_to(Client* c, Room* to) {
  std::string src = prefix(c);
  if (c->room) {
    std::string from_name = c->room->name;
    Room* still = part_room(c, c->room);
    Out left{OutKind::Left, c->nick, from_name};
    left.src = src;
    if (still && !quiet(still)) fanout(still, left, nullptr, false);
  }
  rooms_.add(to, c);
  c->room = to;
  stats_->rooms.set(rooms_.size());
  lifecycle(c, ev::Join{c->id(), c->nick, to->name});
  Out joined{OutKind::Joined, c->nick, to->name};
  joined.src = src;
  if (quiet(to)) send(c, joined);
  else fanout(to, joined, nullptr, false);
}

void Server::cmd_msg(Client* c, std::string_view to, std::string_view text, std::string_view typed) {
  if (to.empty()) {
    error(c, "USAGE", "/" + text::lower(typed) + " NICK TEXT");  // as typed: /msg or /pm
    return;
  }
  if (text::blank(text)) {
    error(c, "EMPTY", "nothing to send");
    return;
  }
  Client* target = to[0] == '@' ? nullptr : nicks_.find(to);
  if (!target) {
    if (pol_.delegate_offline_msg) {
      emit_command(c, "msg", std::string(to) + " " + std::string(text));
      return;
    }
    error(c, "NO_SUCH_USER", "no user named " + std::string(to) + " is online");
    return;
  }
  std::string src = prefix(c);
  Out from{OutKind::PmFrom, c->nick, {}, text};
  from.src = src;
  send(target, from);
  send(c, Out{OutKind::PmTo, target->nick, {}, text});
  stats_->deliveries.add();
  if (pol_.emit_messages) {
    bridge_->emit(ev::Message{c->id(), c->nick, {}, target->nick, std::string(text)});
  }
}

void Server::cmd_me(Client* c, std::string_view text) {
  if (text::blank(text)) {
    error(c, "EMPTY", "/me ACTION");
    return;
  }
  std::string src = prefix(c);
  Out o{OutKind::Action, c->nick, c->room->name, text};
  o.src = src;
  fanout(c->room, o, nullptr, true);
}

void Server::cmd_stats(Client* c) {
  ListReply r{c, "STAT"};
  for (auto& kv : stats_->snapshot(now_ms_)) r.add(kv.first, std::to_string(kv.second));
  finish(r, "STATS");
}

// The command's sequence number goes with it; the client's next lines wait (feed() stops at this
// line) until the host finishes that number, so replies keep the order of the lines.
void Server::emit_command(Client* c, std::string_view name, std::string_view args) {
  stop_waiting(c);  // (never waiting here: a waiting client's lines do not run)
  // The host may keep work for this client (a queued password hash): it must hear of its end.
  c->flags |= kClientWatched;
  if (++c->last_seq == 0) c->last_seq = 1;
  c->wait_seq = c->last_seq;
  c->wait_ms = now_ms_;
  wait_list_.push_back(c);
  // c->addr: for per-address limits (e.g. /register)
  bridge_->emit(ev::Command{c->id(), c->wait_seq, c->state == ClientState::Active ? c->nick : std::string(),
                            std::string(name), std::string(args), c->addr});
}

void Server::stop_waiting(Client* c) {
  if (!c->wait_seq) return;
  wait_list_.remove(c);
  c->wait_seq = 0;
}

std::vector<UserRec> Server::user_list() const {
  std::vector<UserRec> v;
  for (const Client* c : by_nick(conns_.all())) {
    // A line user's current room; an IRC user's first channel (none: empty).
    const Room* r = c->room ? c->room : c->joined.empty() ? nullptr : c->joined.front().room;
    v.push_back({c->id(), c->nick, r ? r->name : std::string(), c->addr});
  }
  return v;
}

std::vector<RoomRec> Server::room_list() const {
  std::vector<RoomRec> v;
  for (const Room* r : rooms_.sorted()) v.push_back({r->name, r->members.size()});
  return v;
}

}  // namespace ep
