// What the host (JavaScript, or epchatd) and the admin console on stdin ask for.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "server.h"
#include "sysio.h"
#include "termkeys.h"
#include "text.h"

namespace ep {

namespace {
constexpr size_t kLoginNickMax = 255;  // the largest nickMaxLength the configuration accepts
}  // namespace

void Server::on_host_commands() {
  for (HostCmd& cmd : bridge_->take()) {
    HostEvent reply{EvType::Reply, 0, cmd.req};  // sent when a case names its kind in reply.b
    switch (cmd.type) {
      case CmdType::Stop:
        begin_shutdown(cmd.flag);
        break;
      case CmdType::Send: {
        Client* c = lookup(cmd.id);
        if (!c || c->state == ClientState::Closing) break;
        // During an IRC login the host's password-step prompts mean nothing: the numerics say it all.
        if (c->proto == Proto::Irc && c->irc->auth_step) break;
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
          if (c->proto == Proto::Irc) {
            irc_auth_result(c, false);  // not logged in
            break;
          }
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
        if (c->proto == Proto::Irc) {
          irc_auth_result(c, false);  // the password was refused
          break;
        }
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
      case CmdType::Adopt: {
        // A socket the host accepted (a gateway, a test) becomes a client of the protocol it names.
        Proto proto = cmd.b == "irc" ? Proto::Irc : Proto::Line;
        if (!adopt(cmd.fd, cmd.a.c_str(), proto)) {
          if (proto == Proto::Line) refuse(cmd.fd, "server is full, try again later");
          else sysio::close(cmd.fd);
        }
        break;
      }
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
  if (c->proto == Proto::Irc && c->state != ClientState::Active) {
    // The IRC password path (SASL, or PASS for a protected nick): logged in, registration goes on.
    c->irc->account = text::lower(nick);
    irc_auth_result(c, true);
    return;
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
  if (c->proto == Proto::Irc && c->irc->auth_step) irc_auth_finished(c);
  if (c->fd < 0 || c->state == ClientState::Closing || input_held(c)) return;
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
    if (c->proto == Proto::Irc) {  // NOTICE lines, naming the recipient
      send(c, Out{OutKind::Raw, {}, {}, text});
      stats_->deliveries.add();
      continue;
    }
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

void Server::console_out(std::string text) { bridge_->emit({EvType::Console, 0, 0, false, std::move(text)}); }

void Server::on_console() {
  // The server goes on without a console, and says so.
  auto close_console = [&](const std::string& why) {
    if (epoll_ctl(epfd_, EPOLL_CTL_DEL, STDIN_FILENO, nullptr) < 0 && errno != EBADF && errno != ENOENT) {
      console_out(std::string("console: epoll_ctl: ") + std::strerror(errno));
    }
    console_out("console closed" + why + "; server keeps running");
  };
  // Started in the background (`epchat &`): reading the terminal would stop the whole server with
  // SIGTTIN as soon as someone types in the shell.
  pid_t fg = tcgetpgrp(STDIN_FILENO);
  if (fg != -1 && fg != getpgrp()) {
    close_console(" (the server runs in the background: the terminal's input is not its own)");
    return;
  }
  char buf[4096];
  ssize_t r = ::read(STDIN_FILENO, buf, sizeof buf);
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (r <= 0) {
    // stdin closed: the end of input, Ctrl-D, a hang-up.
    close_console(r < 0 ? std::string(" (read error: ") + std::strerror(errno) + ")" : std::string());
    return;
  }
  bool handled = false;
  console_in_.feed(
      buf, static_cast<size_t>(r), 4096,
      [&](std::string_view line) {
        console_line(line);
        handled = true;
        return true;
      },
      [&]() {
        console_out("console: line too long");
        handled = true;
        return true;
      });
  // Ready for the next command: the host shows its prompt (unless the server is stopping).
  if (handled && !stopping_) bridge_->emit({EvType::Console, 0, 0, true, {}});
  drop_overflowed();
}

void Server::console_line(std::string_view raw) {
  // Keys a terminal sends as escape sequences or control bytes (arrows, Ctrl-A…) are not text.
  const std::string clean = strip_terminal_keys(raw);
  std::string_view line = text::trim(clean);
  if (line.empty()) return;
  std::string_view word, rest;
  text::split_word(line, &word, &rest);
  std::string cmd = text::lower(word);
  if (cmd == "/stats") {
    for (auto& kv : stats_->snapshot(now_ms_)) console_out(std::string(kv.first) + " " + std::to_string(kv.second));
  } else if (cmd == "/users") {
    auto users = user_list();
    for (auto& u : users) console_out(u.nick + " " + u.room + " " + u.address);
    console_out(std::to_string(users.size()) + " user(s) online");
  } else if (cmd == "/rooms") {
    auto rooms = room_list();
    for (auto& r : rooms) console_out(r.name + " " + std::to_string(r.members));
    console_out(std::to_string(rooms.size()) + " room(s)");
  } else if (cmd == "/kick") {
    std::string_view nick, reason;
    text::split_word(rest, &nick, &reason);
    if (nick.empty()) console_out("usage: /kick NICK [reason]");
    else if (kick(nick, reason)) console_out("kicked " + std::string(nick));
    else console_out("no user named " + std::string(nick));
  } else if (cmd == "/say") {
    if (rest.empty() || text::check_line(rest) != text::Check::Ok) {
      console_out("usage: /say TEXT (valid UTF-8, no control characters)");
    } else {
      announce(rest);
      console_out("announced to " + std::to_string(stats_->users.get()) + " user(s)");
    }
  } else if (cmd == "/shutdown") {
    console_out("shutting down");
    begin_shutdown(false);
  } else if (cmd == "/help") {
    console_out("/stats  /users  /rooms  /kick NICK [reason]  /say TEXT  /shutdown  /help");
  } else {
    console_out("unknown console command " + std::string(word) + " (try /help)");
  }
}

}  // namespace ep
