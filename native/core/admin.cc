// What the host (JavaScript, or epchatd) and the admin console on stdin ask for. The handlers that
// bring the commands in are host_channel.cc (the Bridge's eventfd) and console.cc (stdin).
#include <string>

#include "server.h"
#include "text.h"

namespace ep {

namespace {
constexpr size_t kLoginNickMax = 255;  // the largest nickMaxLength the configuration accepts
}  // namespace

void Server::on_host_commands(std::vector<HostCmd>& cmds) {
  for (HostCmd& cmd : cmds) {
    HostEvent reply{EvType::Reply, 0, cmd.req};  // sent when a case names its kind in reply.b
    switch (cmd.type) {
      case CmdType::Stop:
        begin_shutdown(cmd.flag);
        break;
      case CmdType::Send: {
        Client* c = lookup(cmd.id);
        if (!c || c->state == ClientState::Closing) break;
        std::string_view t = cmd.a;
        while (!t.empty() && t.back() == '\n') t.remove_suffix(1);
        send(c, Out{OutKind::Raw, {}, {}, t});
        break;
      }
      case CmdType::Announce:
        announce(cmd.a);
        break;
      case CmdType::Kick:
        reply.b = "kick";
        reply.flag = kick(cmd.a, cmd.b);
        break;
      case CmdType::Query:
        reply.b = cmd.a;
        if (cmd.a == "users") reply.users = user_list();
        else reply.rooms = room_list();
        break;
      case CmdType::Login: {
        Client* c = lookup(cmd.id);
        if (!c || c->state == ClientState::Closing) break;
        // A login bypasses nick protection, not the nick grammar: a nick with a blank, ':' or a
        // control character (or an empty one) would let host code break the protocol's promise that
        // a line starting "NICK: " is NICK's. Refused; an unregistered client goes back to the
        // prompt rather than waiting in the password step. (Found by fuzz_session.) The bound is
        // nickMaxLength's ceiling, so an account made under a longer limit can still log in.
        if (!text::valid_nick(cmd.a, kLoginNickMax)) {
          if (c->state == ClientState::Active) break;
          c->state = ClientState::Nick;
          send(c, Out{OutKind::Prompt});
          break;
        }
        login(c, cmd.a);
        break;
      }
      case CmdType::Prompt: {
        Client* c = lookup(cmd.id);
        if (!c || (c->state != ClientState::Nick && c->state != ClientState::Auth)) break;
        c->state = ClientState::Nick;
        send(c, Out{OutKind::Prompt});
        break;
      }
      case CmdType::Protect:
        for (auto& n : cmd.add) protected_.insert(text::lower(n));
        for (auto& n : cmd.remove) protected_.erase(text::lower(n));
        break;
      case CmdType::SetPolicy:
        if (cmd.policy) pol_ = *cmd.policy;
        break;
      case CmdType::Deliver:
        reply.b = "deliver";
        reply.names = deliver(cmd.add, cmd.a);
        break;
      case CmdType::Finish: {
        Client* c = lookup(cmd.id);
        if (c && c->fd >= 0 && c->state != ClientState::Closing) finish_command(c, cmd.req, cmd.flag);
        break;
      }
    }
    if (!reply.b.empty()) bridge_->emit(std::move(reply));
  }
  drop_overflowed();
}

// An authenticated login: the account owns the nick, so whoever holds it now gives it up.
void Server::login(Client* c, std::string_view nick) {
  c->flags |= kClientWatched;
  Client* holder = nicks_.find(nick);
  if (holder && holder != c) {
    error(holder, "KICKED", "logged in from another connection");
    close_client(holder, "kicked");
  }
  if (c->state == ClientState::Active) {
    if (c->nick != nick) rename(c, nick);
  } else {
    register_client(c, nick);
  }
}

// The host is done with command `seq` of c: the lines that waited behind it run now, up to the next
// one that waits on the host (the rest stays held), and reading resumes once none is left. A stale or
// unknown seq finishes nothing. close: the host ends the connection (after what it queued to it),
// whatever the seq.
void Server::finish_command(Client* c, uint32_t seq, bool close) {
  if (close) {
    close_client(c, "kicked");
    return;
  }
  if (!c->wait_seq || c->wait_seq != seq) return;
  stop_waiting(c);
  resume_input(c);
}

void Server::resume_input(Client* c) {
  std::string held;
  held.swap(c->held);  // feed() may hold a new rest in c->held
  if (!held.empty()) feed(c, held.data(), held.size(), mono_ns());
  if (c->fd >= 0 && c->state != ClientState::Closing && !input_held(c) && !set_reading(c, true))
    close_client(c, "error", true);
}

// Sends text (protocol lines the host formatted) to each nick online; returns the nicks not online,
// so the host can store for them. One buffer serves every recipient; empty text sends nothing.
std::vector<std::string> Server::deliver(const std::vector<std::string>& nicks, std::string_view text) {
  std::vector<std::string> offline;
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  Buf* b = nullptr;
  for (const std::string& n : nicks) {
    Client* c = nicks_.find(n);
    if (!c || c->state != ClientState::Active) {
      offline.push_back(n);
      continue;
    }
    if (text.empty()) continue;  // only asked who is offline
    if (!b && !(b = c->codec->format(Out{OutKind::Raw, {}, {}, text}))) {
      offline.push_back(n);
      continue;
    }
    enqueue(c, b);
    stats_->deliveries.add();
  }
  if (b) b->unref();
  return offline;
}

bool Server::kick(std::string_view nick, std::string_view reason) {
  Client* c = nicks_.find(nick);
  if (!c) return false;
  error(c, "KICKED", reason.empty() ? std::string_view("kicked by the administrator") : reason);
  close_client(c, "kicked");
  return true;
}

void Server::announce(std::string_view t) { fanout_all(Out{OutKind::Announce, {}, {}, t}); }

// ---------------------------------------------------------------------------------------- console

std::vector<UserRec> Server::console_users() const { return user_list(); }
std::vector<RoomRec> Server::console_rooms() const { return room_list(); }
bool Server::console_kick(std::string_view nick, std::string_view reason) { return kick(nick, reason); }
void Server::console_announce(std::string_view text) { announce(text); }
void Server::console_shutdown() { begin_shutdown(false); }
void Server::console_done() { drop_overflowed(); }

}  // namespace ep
